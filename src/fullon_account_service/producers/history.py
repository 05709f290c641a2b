"""REST history reads that span many pages or time windows, per venue, as ccxt 4.5.90 lets us walk them.

A read covers ``[since, until]`` (``until`` ``None``: up to ``now``) within a page budget and says
whether it read the whole span (``HistoryRead.complete``). A read the budget cut short says where
the unread part is, so the caller keeps its cursor at the first gap and goes on from there:

- kraken: TradesHistory / ClosedOrders answer 50 rows per call, newest first (trades by time,
  closed orders by closing time, asked with ``closetime=close``), paged by the ``ofs`` offset
  (ccxt has no pagination for them). A cut read holds the newest rows: the gap is ``[since,
  oldest time read]``, everything after it was read.
- bybit: executions and order history answer a ``startTime``..``endTime`` range of at most 7 days
  (``startTime`` alone: the 7 days after it), newest first, cursor-paged, one category at a time
  (linear perps, spot). We walk 7-day windows from ``since`` up to ``now`` and follow
  ``nextPageCursor`` by hand, so a cut inside a window leaves the gap ``[window start, oldest row
  read]`` with the rest of that window read, and the later windows for the next walk.
- hyperliquid: ``userFillsByTime`` returns the first 2,000 fills from ``startTime``, oldest first;
  a cut read has everything before its newest row, the gap starts there. Closed orders come from
  ``historicalOrders`` (the newest 2,000, not pageable): one call.
- anything else: one call, taken as complete (no other venue is simulated or tested).

A cut read always makes progress unless one timestamp (one second on Kraken, whose ``end`` is in
whole seconds) holds a whole budget of rows (2,500 fills on Kraken, 5,000 on Bybit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fullon_account_service.producers.session import AccountSession
from fullon_account_service.producers.venue_reads import FILL_PARAMS

KRAKEN_PAGE = 50
HYPERLIQUID_FILL_PAGE = 2000
BYBIT_WINDOW_MS = 7 * 24 * 3600 * 1000
MAX_PAGES = 50
_BYBIT_CATEGORIES: tuple[dict[str, Any], ...] = ({"type": "swap", "subType": "linear"}, {"type": "spot"})
_BYBIT_LIMIT = {"fetch_my_trades": 100, "fetch_canceled_and_closed_orders": 50}
_BYBIT_OPEN = {"paginate": True, "paginationCalls": MAX_PAGES}

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class HistoryRead:
    """Rows of one span, and whether the span was read to its end.

    When it was not: every row before ``resume_from_ms`` was read; the unread gap runs from there
    to ``gap_until_ms`` (``None``: to the end of the span), and with a ``gap_until_ms`` the rows
    after it were read up to ``read_to_ms``.
    """

    rows: list[Row]
    complete: bool
    resume_from_ms: int | None = None
    gap_until_ms: int | None = None
    read_to_ms: int | None = None


def _ceil_s(ms: int) -> int:
    """Kraken's inclusive ``end``, in whole seconds, covering ``ms`` (ccxt's ``until`` would
    add a second, and sends milliseconds for ClosedOrders)."""
    return -(-ms // 1000)


def _stamps(rows: Iterable[Row]) -> list[int]:
    return [r["timestamp"] for r in rows if isinstance(r.get("timestamp"), int)]


def _time_ms(row: Row) -> int | None:
    stamp = row.get("timestamp")
    return stamp if isinstance(stamp, int) else None


def _kraken_closed_ms(row: Row) -> int | None:
    """Kraken orders its closed orders by closing time (``closetm``), not by ccxt's timestamp
    (the opening time): a cut read's boundary is the oldest closing time read."""
    info = row.get("info")
    try:
        return int(float(info["closetm"]) * 1000) if isinstance(info, dict) else None
    except (KeyError, TypeError, ValueError):
        return None


def _closed_method(session: AccountSession) -> str:
    has = session.client.has
    return (
        "fetch_canceled_and_closed_orders"
        if has.get("fetchCanceledAndClosedOrders")
        else "fetch_closed_orders"
    )


async def fetch_open_orders(session: AccountSession) -> list[Row]:
    """Open orders are few by nature (venues cap them per account); ccxt pages Bybit's list."""
    if session.ref.venue != "bybit":
        result: list[Row] = await session.call("fetch_open_orders")
        return result
    rows: list[Row] = []
    for category in _BYBIT_CATEGORIES:
        rows.extend(await session.call("fetch_open_orders", None, None, None, {**category, **_BYBIT_OPEN}))
    return rows


async def fetch_closed_orders(
    session: AccountSession, since: int, until: int | None, now: int, max_pages: int = MAX_PAGES
) -> HistoryRead:
    method = _closed_method(session)
    venue = session.ref.venue
    if venue == "kraken":
        extra: dict[str, Any] = {"closetime": "close"}
        if until is not None:
            extra["end"] = _ceil_s(until)
        return await _newest_first(session, method, since, until, now, extra, max_pages, _kraken_closed_ms)
    if venue == "bybit":
        return await _bybit_windows(session, method, since, until, now, max_pages)
    params = {} if until is None else {"until": until}
    return HistoryRead(await session.call(method, None, since, None, params), complete=True)


async def fetch_fills(
    session: AccountSession, since: int, until: int | None, now: int, max_pages: int = MAX_PAGES
) -> HistoryRead:
    venue = session.ref.venue
    if venue == "kraken":
        extra = {} if until is None else {"end": _ceil_s(until)}
        return await _newest_first(session, "fetch_my_trades", since, until, now, extra, max_pages, _time_ms)
    if venue == "bybit":
        return await _bybit_windows(
            session, "fetch_my_trades", since, until, now, max_pages, FILL_PARAMS["bybit"]
        )
    if venue == "hyperliquid":
        return await _oldest_first(session, since, until, max_pages)
    params = {} if until is None else {"until": until}
    return HistoryRead(await session.call("fetch_my_trades", None, since, None, params), complete=True)


async def _newest_first(
    session: AccountSession,
    method: str,
    since: int,
    until: int | None,
    now: int,
    extra: dict[str, Any],
    max_pages: int,
    stamp: Callable[[Row], int | None],
) -> HistoryRead:
    """Kraken: ``ofs`` pages, newest first by ``stamp``. A full last page at the budget means
    older rows remain: the gap ends at the oldest ``stamp`` read."""
    rows: list[Row] = []
    for page_number in range(max_pages):
        page = await session.call(method, None, since, None, {**extra, "ofs": page_number * KRAKEN_PAGE})
        rows.extend(page)
        if len(page) < KRAKEN_PAGE:
            return HistoryRead(rows, complete=True)
    stamps = [t for t in map(stamp, rows) if t is not None]
    oldest = min(stamps) if stamps else since
    return HistoryRead(
        rows,
        complete=False,
        resume_from_ms=since,
        gap_until_ms=oldest,
        read_to_ms=until if until is not None else now,
    )


async def _bybit_windows(
    session: AccountSession,
    method: str,
    since: int,
    until: int | None,
    now: int,
    max_pages: int,
    extra: dict[str, Any] | None = None,
) -> HistoryRead:
    """Bybit: 7-day windows, oldest window first; inside a window each category newest first."""
    rows: list[Row] = []
    extra = extra or {}
    end = until if until is not None else now
    budget = max_pages
    start = since
    if start > end:
        return HistoryRead(rows, complete=True)
    while True:
        stop = min(start + BYBIT_WINDOW_MS, end)
        gap_until: int | None = None
        # The last window up to now asks for startTime only (the venue's 7 days after it), so a
        # venue clock ahead of ours loses nothing at the top.
        open_end = until is None and stop >= end
        for category in _BYBIT_CATEGORIES:
            got, left, cut_at = await _bybit_cursor_pages(
                session, method, start, stop, category, budget, send_end=not open_end, extra=extra
            )
            rows.extend(got)
            budget = left
            if cut_at is not None:
                gap_until = max(gap_until or cut_at, cut_at)
        if gap_until is not None:
            return HistoryRead(rows, False, resume_from_ms=start, gap_until_ms=gap_until, read_to_ms=stop)
        if stop >= end:
            return HistoryRead(rows, complete=True)
        if budget <= 0:
            return HistoryRead(rows, complete=False, resume_from_ms=stop)
        start = stop


async def _bybit_cursor_pages(
    session: AccountSession,
    method: str,
    start: int,
    stop: int,
    category: dict[str, Any],
    budget: int,
    *,
    send_end: bool,
    extra: dict[str, Any],
) -> tuple[list[Row], int, int | None]:
    """One category of one window: rows, the budget left, and the oldest time read if cut short.
    At least one page even on a spent budget, so every category's gap shrinks each time."""
    rows: list[Row] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {**category, **extra}
        if send_end:
            params["endTime"] = stop
        if cursor:
            params["cursor"] = cursor
        page = await session.call(method, None, start, _BYBIT_LIMIT[method], params)
        budget -= 1
        rows.extend(page)
        cursor = _next_cursor(page)
        if not cursor:
            return rows, budget, None
        if budget <= 0:
            break
    stamps = _stamps(rows)
    return rows, budget, (min(stamps) if stamps else stop)


def _next_cursor(page: list[Row]) -> str | None:
    """ccxt leaves Bybit's ``nextPageCursor`` in the ``info`` of the page's first raw row."""
    for row in page:
        info = row.get("info")
        if isinstance(info, dict) and info.get("nextPageCursor"):
            return str(info["nextPageCursor"])
    return None


async def _oldest_first(
    session: AccountSession, since: int, until: int | None, max_pages: int
) -> HistoryRead:
    """Hyperliquid: move ``startTime`` to the newest fill of each full page.

    A full page whose rows were all seen already (2,000 fills in one millisecond) cannot move
    ``startTime``; the read ends there as complete, which no venue history we know can reach.
    """
    rows: list[Row] = []
    seen: set[str] = set()
    params = {} if until is None else {"until": until}
    for _ in range(max_pages):
        page = await session.call("fetch_my_trades", None, since, None, params)
        fresh = [r for r in page if str(r.get("id")) not in seen]
        rows.extend(fresh)
        seen.update(str(r.get("id")) for r in fresh)
        stamps = _stamps(page)
        if len(page) < HYPERLIQUID_FILL_PAGE or not fresh or not stamps or max(stamps) <= since:
            return HistoryRead(rows, complete=True)
        since = max(stamps)
    return HistoryRead(rows, complete=False, resume_from_ms=since)


def has_positions(session: AccountSession) -> bool:
    """Positions exist only where the venue lists contracts (Kraken spot never has any)."""
    if not session.client.has.get("fetchPositions"):
        return False
    return any(m.get("contract") for m in session.client.markets.values())
