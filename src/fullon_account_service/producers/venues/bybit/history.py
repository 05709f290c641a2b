"""Bybit paging: executions and order history answer a ``startTime``..``endTime`` range of at most
7 days (``startTime`` alone: the 7 days after it), newest first, cursor-paged, one category at a
time (linear perps, spot).

We walk 7-day windows from ``since`` up to ``now`` and follow ``nextPageCursor`` by hand, so a cut
inside a window leaves the gap ``[window start, oldest row read]`` with the rest of that window
read, and the later windows for the next walk. A cut read makes progress unless one millisecond
holds a whole budget of rows (5,000 fills). ccxt's ``fetch_my_trades`` asks for ``execType=Trade``
only, which leaves out liquidation takeovers (``BustTrade``) and auto-deleveraging (``AdlTrade``);
an empty ``execType`` lists every execution (funding rows are dropped by the normaliser). Open
orders are read per category, paged by ccxt. The ledger is three histories read as one
(``merge_reads``): the transaction log (``/v5/account/transaction-log``, every category, 7-day
windows) and the deposit and withdrawal records (``/v5/asset/.../query-record``, 30-day windows),
each newest first, 50 rows a page, cursor-paged like the executions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fullon_account_service.producers.history import (
    MAX_PAGES,
    HistoryRead,
    PageSink,
    PageStamps,
    Row,
    closed_method,
    has_call,
    merge_reads,
)

if TYPE_CHECKING:
    from fullon_account_service.producers.calls import VenueCalls

WINDOW_MS = 7 * 24 * 3600 * 1000
RECORD_WINDOW_MS = 30 * 24 * 3600 * 1000
_RECORD_READS = (
    ("fetch_deposits", "fetchDeposits", RECORD_WINDOW_MS, True),
    ("fetch_withdrawals", "fetchWithdrawals", RECORD_WINDOW_MS, True),
)
_LEDGER_READS = (("fetch_ledger", "fetchLedger", WINDOW_MS, False), *_RECORD_READS)
"""``(ccxt method, has key, widest range, whether startTime alone reads the whole range)``: the
transaction log answers ``startTime`` alone with the 24 hours after it, so it always gets an
``endTime``."""
_CATEGORIES: tuple[dict[str, Any], ...] = ({"type": "swap", "subType": "linear"}, {"type": "spot"})
_EVERY_CATEGORY: tuple[dict[str, Any], ...] = ({},)
_LIMIT = {
    "fetch_my_trades": 100,
    "fetch_canceled_and_closed_orders": 50,
    "fetch_ledger": 50,
    "fetch_deposits": 50,
    "fetch_withdrawals": 50,
}
_OPEN = {"paginate": True, "paginationCalls": MAX_PAGES}
_FILL_PARAMS: dict[str, Any] = {"execType": ""}


async def fetch_open_orders(session: VenueCalls) -> list[Row]:
    rows: list[Row] = []
    for category in _CATEGORIES:
        rows.extend(await session.call("fetch_open_orders", None, None, None, {**category, **_OPEN}))
    return rows


async def fetch_closed_orders(
    session: VenueCalls, since: int, until: int | None, now: int, max_pages: int, on_page: PageSink
) -> HistoryRead:
    return await _windows(session, closed_method(session), since, until, now, max_pages, on_page)


async def fetch_fills(
    session: VenueCalls, since: int, until: int | None, now: int, max_pages: int, on_page: PageSink
) -> HistoryRead:
    return await _windows(session, "fetch_my_trades", since, until, now, max_pages, on_page, _FILL_PARAMS)


async def fetch_ledger(
    session: VenueCalls, since: int, until: int | None, now: int, max_pages: int, on_page: PageSink
) -> HistoryRead:
    return await _merged(_LEDGER_READS, session, since, until, now, max_pages, on_page)


async def fetch_pending_transfers(
    session: VenueCalls, since: int, until: int | None, now: int, max_pages: int, on_page: PageSink
) -> HistoryRead:
    """The deposit and withdrawal records alone: they are listed (under the time they were
    asked for) while still pending."""
    return await _merged(_RECORD_READS, session, since, until, now, max_pages, on_page)


async def _merged(
    reads: tuple[tuple[str, str, int, bool], ...],
    session: VenueCalls,
    since: int,
    until: int | None,
    now: int,
    max_pages: int,
    on_page: PageSink,
) -> HistoryRead:
    has = session.client.has
    return merge_reads(
        [
            await _windows(
                session,
                method,
                since,
                until,
                now,
                max_pages,
                on_page,
                categories=_EVERY_CATEGORY,
                span_ms=span,
                open_top=open_top,
            )
            for method, call, span, open_top in reads
            if has_call(has, call)
        ]
    )


async def _windows(
    session: VenueCalls,
    method: str,
    since: int,
    until: int | None,
    now: int,
    max_pages: int,
    on_page: PageSink,
    extra: dict[str, Any] | None = None,
    categories: tuple[dict[str, Any], ...] = _CATEGORIES,
    span_ms: int = WINDOW_MS,
    open_top: bool = True,
) -> HistoryRead:
    """Windows of ``span_ms`` (the venue's longest range), oldest window first; inside a window
    each category newest first."""
    extra = extra or {}
    end = until if until is not None else now
    budget = max_pages
    start = since
    if start > end:
        return HistoryRead(complete=True)
    while True:
        stop = min(start + span_ms, end)
        gap_until: int | None = None
        # The last window up to now asks for startTime only (the venue's whole range after it), so
        # a venue clock ahead of ours loses nothing at the top; not where startTime alone means
        # less than the range (``open_top`` false: the transaction log's 24 hours).
        open_end = open_top and until is None and stop >= end
        for category in categories:
            budget, cut_at = await _cursor_pages(
                session, method, (start, stop), category, budget, on_page, send_end=not open_end, extra=extra
            )
            if cut_at is not None:
                gap_until = max(gap_until or cut_at, cut_at)
        if gap_until is not None:
            return HistoryRead(False, resume_from_ms=start, gap_until_ms=gap_until, read_to_ms=stop)
        if stop >= end:
            return HistoryRead(complete=True)
        if budget <= 0:
            return HistoryRead(complete=False, resume_from_ms=stop)
        start = stop


async def _cursor_pages(
    session: VenueCalls,
    method: str,
    window: tuple[int, int],
    category: dict[str, Any],
    budget: int,
    on_page: PageSink,
    *,
    send_end: bool,
    extra: dict[str, Any],
) -> tuple[int, int | None]:
    """One category of one window, each page handed to ``on_page``: the budget left, and the
    oldest time read if cut short. At least one page even on a spent budget, so every category's
    gap shrinks each time."""
    start, stop = window
    read = PageStamps()
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {**category, **extra}
        if send_end:
            params["endTime"] = stop
        if cursor:
            params["cursor"] = cursor
        page = await session.call(method, None, start, _LIMIT[method], params)
        budget -= 1
        read.add(page)
        cursor = _next_cursor(page)
        await on_page(page)
        del page  # not held while the next page is fetched: one page per read in memory (issue 18)
        if not cursor:
            return budget, None
        if budget <= 0:
            break
    return budget, (read.oldest if read.oldest is not None else stop)


def _next_cursor(page: list[Row]) -> str | None:
    """ccxt leaves Bybit's ``nextPageCursor`` in the ``info`` of the page's first raw row."""
    for row in page:
        info = row.get("info")
        if isinstance(info, dict) and info.get("nextPageCursor"):
            return str(info["nextPageCursor"])
    return None
