"""Bybit paging: executions and order history answer a ``startTime``..``endTime`` range of at most
7 days (``startTime`` alone: the 7 days after it), newest first, cursor-paged, one category at a
time (linear perps, spot).

We walk 7-day windows from ``since`` up to ``now`` and follow ``nextPageCursor`` by hand, so a cut
inside a window leaves the gap ``[window start, oldest row read]`` with the rest of that window
read, and the later windows for the next walk. A cut read makes progress unless one millisecond
holds a whole budget of rows (5,000 fills). ccxt's ``fetch_my_trades`` asks for ``execType=Trade``
only, which leaves out liquidation takeovers (``BustTrade``) and auto-deleveraging (``AdlTrade``);
an empty ``execType`` lists every execution (funding rows are dropped by the normaliser). Open
orders are read per category, paged by ccxt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fullon_account_service.producers.history import (
    MAX_PAGES,
    HistoryRead,
    PageSink,
    Row,
    closed_method,
    stamps,
)

if TYPE_CHECKING:
    from fullon_account_service.producers.calls import VenueCalls

WINDOW_MS = 7 * 24 * 3600 * 1000
_CATEGORIES: tuple[dict[str, Any], ...] = ({"type": "swap", "subType": "linear"}, {"type": "spot"})
_LIMIT = {"fetch_my_trades": 100, "fetch_canceled_and_closed_orders": 50}
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


async def _windows(
    session: VenueCalls,
    method: str,
    since: int,
    until: int | None,
    now: int,
    max_pages: int,
    on_page: PageSink,
    extra: dict[str, Any] | None = None,
) -> HistoryRead:
    """7-day windows, oldest window first; inside a window each category newest first."""
    extra = extra or {}
    end = until if until is not None else now
    budget = max_pages
    start = since
    if start > end:
        return HistoryRead(complete=True)
    while True:
        stop = min(start + WINDOW_MS, end)
        gap_until: int | None = None
        # The last window up to now asks for startTime only (the venue's 7 days after it), so a
        # venue clock ahead of ours loses nothing at the top.
        open_end = until is None and stop >= end
        for category in _CATEGORIES:
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
    oldest: int | None = None
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {**category, **extra}
        if send_end:
            params["endTime"] = stop
        if cursor:
            params["cursor"] = cursor
        page = await session.call(method, None, start, _LIMIT[method], params)
        budget -= 1
        times = stamps(page)
        oldest = min([*times, oldest]) if oldest is not None else min(times, default=None)
        cursor = _next_cursor(page)
        await on_page(page)
        if not cursor:
            return budget, None
        if budget <= 0:
            break
    return budget, (oldest if oldest is not None else stop)


def _next_cursor(page: list[Row]) -> str | None:
    """ccxt leaves Bybit's ``nextPageCursor`` in the ``info`` of the page's first raw row."""
    for row in page:
        info = row.get("info")
        if isinstance(info, dict) and info.get("nextPageCursor"):
            return str(info["nextPageCursor"])
    return None
