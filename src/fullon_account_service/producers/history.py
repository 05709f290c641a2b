"""REST history reads that span many pages or time windows: the shapes every venue's paging shares.

A read covers ``[since, until]`` (``until`` ``None``: up to ``now``) within a page budget and says
whether it read the whole span (``HistoryRead.complete``). A read the budget cut short says where
the unread part is, so the caller keeps its cursor at the first gap and goes on from there
(``walk``). Rows are handed over one page at a time (``PageSink``) and the reader keeps none of
them, so a read holds one page in memory however long the span it walks. How each venue pages,
as ccxt 4.5.90 lets us walk it, is in its adapter's ``history.py``
(``producers/venues/<venue>/history.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from fullon_account_service.producers.calls import VenueCalls

MAX_PAGES = 50

Row = dict[str, Any]
PageSink = Callable[[list[Row]], Awaitable[None]]
"""Takes one page of rows (publishes it, say); the reader awaits it before asking for the next
page and does not look at the rows again."""


class SpanRead(Protocol):
    """One history read (closed orders, fills or ledger): ``[since, until]`` within ``max_pages``
    calls, each page handed to ``on_page`` before the next is asked for."""

    async def __call__(
        self,
        session: VenueCalls,
        since: int,
        until: int | None,
        now: int,
        max_pages: int,
        on_page: PageSink,
    ) -> HistoryRead: ...


@dataclass(frozen=True, slots=True)
class HistoryRead:
    """Whether the span was read to its end (its rows went to the read's ``PageSink``).

    When it was not: every row before ``resume_from_ms`` was read; the unread gap runs from there
    to ``gap_until_ms`` (``None``: to the end of the span), and with a ``gap_until_ms`` the rows
    after it were read up to ``read_to_ms``.
    """

    complete: bool
    resume_from_ms: int | None = None
    gap_until_ms: int | None = None
    read_to_ms: int | None = None


def merge_reads(reads: list[HistoryRead]) -> HistoryRead:
    """Several histories of one span read as one (a venue whose ledger is split over calls; each
    handed its rows to the sink already).

    Every row before the earliest ``resume_from_ms`` of the cut reads was read; their gaps
    together run from there to the latest ``gap_until_ms`` (to the end of the span if any gap
    does), and above it every read reached at least the lowest ``read_to_ms``."""
    cut = [read for read in reads if not read.complete]
    if not cut:
        return HistoryRead(complete=True)
    resumes = [read.resume_from_ms for read in cut]
    resume = None if None in resumes else min(r for r in resumes if r is not None)
    gaps = [read.gap_until_ms for read in cut]
    if resume is None or None in gaps:
        return HistoryRead(complete=False, resume_from_ms=resume)
    tops = [read.read_to_ms if read.read_to_ms is not None else read.gap_until_ms for read in cut]
    return HistoryRead(
        complete=False,
        resume_from_ms=resume,
        gap_until_ms=max(g for g in gaps if g is not None),
        read_to_ms=min(t for t in tops if t is not None),
    )


def time_ms(row: Row) -> int | None:
    stamp = row.get("timestamp")
    return stamp if isinstance(stamp, int) else None


@dataclass(slots=True)
class PageStamps:
    """The oldest and newest stamp (``stamp``: ccxt's ``timestamp`` unless told) of the pages one
    read has seen: where a cut newest-first read's gap ends, where an oldest-first read goes on."""

    stamp: Callable[[Row], int | None] = field(default=time_ms)
    oldest: int | None = None
    newest: int | None = None

    def add(self, page: Iterable[Row]) -> bool:
        """Take one page's stamps in; whether it had any."""
        times = [t for t in map(self.stamp, page) if t is not None]
        if not times:
            return False
        low, high = min(times), max(times)
        self.oldest = low if self.oldest is None else min(self.oldest, low)
        self.newest = high if self.newest is None else max(self.newest, high)
        return True


def closed_method(session: VenueCalls) -> str:
    has = session.client.has
    return (
        "fetch_canceled_and_closed_orders"
        if has.get("fetchCanceledAndClosedOrders")
        else "fetch_closed_orders"
    )


def has_call(has: Mapping[str, Any], call: str) -> bool:
    """ccxt's ``has`` says ``call`` (e.g. ``fetchLedger``) exists: ``True``, never ``None``/``False``."""
    return has.get(call) is True


def has_positions(session: VenueCalls) -> bool:
    """Positions exist only where the venue lists contracts (Kraken spot never has any)."""
    if not session.client.has.get("fetchPositions"):
        return False
    return any(m.get("contract") for m in session.client.markets.values())
