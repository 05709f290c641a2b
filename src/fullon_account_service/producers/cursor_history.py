"""A history read from its Redis cursor (fills, ledger): page by page, the cursor moved after.

Each page is normalised and published (new rows only: ``PublishedIds``) before the next is read,
so a read holds one page however far behind it is. A read cut short by the page budget or a
venue's window moves the cursor only to the first gap and asks the poller to read on from there
at once (``walk``); a complete read moves it to the newest row handed over or to what the read
reached less the overlap, whichever is later, once every row before it is on the bus.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

from fullon_account_service.contract import Envelope, Source
from fullon_account_service.logs import get_logger
from fullon_account_service.producers.cursor import CursorStore
from fullon_account_service.producers.history import Row, SpanRead
from fullon_account_service.producers.normalise import Batch
from fullon_account_service.producers.outbox import Outbox
from fullon_account_service.producers.published_ids import PublishedIds
from fullon_account_service.producers.session import AccountSession
from fullon_account_service.producers.walk import Walk, from_cursor, step

_log = get_logger("producers.reconcile")


@dataclass(frozen=True, slots=True)
class ReadBounds:
    """What every history read of a reconciler shares: the clock, how far back a history without
    a cursor starts, and the page budget of one read."""

    clock_ms: Callable[[], int]
    lookback_ms: int
    max_pages: int


@dataclass(slots=True)
class CursorHistory:
    """One history (``name``, for logs) read by cursor; the walks under way, per ex_id."""

    name: str
    cursors: CursorStore
    outbox: Outbox
    bounds: ReadBounds
    walks: dict[int, Walk] = field(default_factory=dict)

    async def read(
        self,
        session: AccountSession,
        source: Source,
        read_span: SpanRead,
        normalise: Callable[[list[Row], Source], Batch],
        published: PublishedIds,
        overlap: int,
        on_batch: Callable[[Batch], Awaitable[None]] | None = None,
        on_fresh: Callable[[list[Envelope]], None] | None = None,
    ) -> int:
        """Read on from the cursor (or the gap left last time); how many rows were not on the bus
        yet. ``on_batch`` sees each page's batch before it is published, ``on_fresh`` the events
        of it that were not on the bus yet, once published."""
        ex_id = session.ref.ex_id
        started = self.bounds.clock_ms()
        walk = self.walks.get(ex_id) or await from_cursor(
            self.cursors, ex_id, started, overlap, self.bounds.lookback_ms
        )
        handed = _Handed()

        async def publish(rows: list[Row]) -> None:
            batch = normalise(rows, source)
            if on_batch is not None:
                await on_batch(batch)
            fresh = await published.publish(batch.envelopes, partial(self.outbox.publish, dead=batch.dead))
            handed.count(fresh, batch.envelopes)
            if on_fresh is not None:
                on_fresh(fresh)

        read = await read_span(session, walk.since_ms, walk.until_ms, started, self.bounds.max_pages, publish)
        outcome = step(walk, read, started)
        if outcome.next is not None:
            self.walks[ex_id] = outcome.next
            session.wake_poller.set()
            await self.cursors.advance(ex_id, outcome.safe_ms)
            _log.info(
                f"{self.name} history read in part; continuing from the gap",
                ex_id=ex_id,
                resume_from_ms=outcome.next.since_ms,
                gap_until_ms=outcome.next.until_ms,
            )
            return handed.fresh
        self.walks.pop(ex_id, None)
        reached = outcome.reached_ms if outcome.reached_ms is not None else started
        cursor = await self.cursors.advance(ex_id, max(handed.newest_ms, reached - overlap))
        published.forget_before(cursor - overlap)
        return handed.fresh


class _Handed:
    """What a history read handed over so far: rows new to the bus, the newest exchange time."""

    __slots__ = ("fresh", "newest_ms")

    def __init__(self) -> None:
        self.fresh = 0
        self.newest_ms = 0

    def count(self, fresh: list[Envelope], handed: list[Envelope]) -> None:
        self.fresh += len(fresh)
        self.newest_ms = max([self.newest_ms, *(e.exchange_ms or 0 for e in handed)])
