"""Hyperliquid paging: ``userFillsByTime`` returns the first 2,000 fills from ``startTime``, oldest
first; a cut read has everything before its newest row, the gap starts there. Closed orders come
from ``historicalOrders`` (the newest 2,000, not pageable) and open orders from one call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fullon_account_service.producers.history import HistoryRead, PageSink, stamps
from fullon_account_service.producers.venues.generic import history as generic

if TYPE_CHECKING:
    from fullon_account_service.producers.calls import VenueCalls

fetch_closed_orders = generic.fetch_closed_orders
fetch_open_orders = generic.fetch_open_orders

FILL_PAGE = 2000


async def fetch_fills(
    session: VenueCalls, since: int, until: int | None, now: int, max_pages: int, on_page: PageSink
) -> HistoryRead:
    """Move ``startTime`` to the newest fill of each full page.

    The next page starts at that millisecond again, so only the fills of that millisecond can
    come twice: their ids are all the read remembers. A full page whose rows were all seen
    already (2,000 fills in one millisecond) cannot move ``startTime``; the read ends there as
    complete, which no venue history we know can reach.
    """
    seen: set[str] = set()
    params = {} if until is None else {"until": until}
    for _ in range(max_pages):
        page = await session.call("fetch_my_trades", None, since, None, params)
        fresh = [r for r in page if str(r.get("id")) not in seen]
        times = stamps(page)
        newest = max(times, default=since)
        seen = {str(r.get("id")) for r in page if r.get("timestamp") == newest}
        await on_page(fresh)
        if len(page) < FILL_PAGE or not fresh or not times or newest <= since:
            return HistoryRead(complete=True)
        since = newest
    return HistoryRead(complete=False, resume_from_ms=since)
