"""Hyperliquid paging: ``userFillsByTime`` returns the first 2,000 fills from ``startTime``, oldest
first; a cut read has everything before its newest row, the gap starts there. Closed orders come
from ``historicalOrders`` (the newest 2,000, not pageable) and open orders from one call.

The ledger is two histories paged the same way: ``userFunding`` (``fetch_funding_history``) and
``userNonFundingLedgerUpdates`` (``fetch_ledger``), each answering at most ``LEDGER_PAGE`` rows
from ``startTime``, oldest first. A cut read of either resumes from the older of the two points
reached. Ledger rows carry the account's address (``account``), which tells a transfer's
direction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fullon_account_service.producers.history import (
    HistoryRead,
    PageSink,
    PageStamps,
    Row,
    has_call,
    merge_reads,
)
from fullon_account_service.producers.venues.generic import history as generic

if TYPE_CHECKING:
    from fullon_account_service.producers.calls import VenueCalls

fetch_closed_orders = generic.fetch_closed_orders
fetch_open_orders = generic.fetch_open_orders
fetch_pending_transfers = generic.fetch_pending_transfers
"""``userNonFundingLedgerUpdates`` lists a deposit or withdrawal once it moved the account."""

FILL_PAGE = 2000
LEDGER_PAGE = 500
_LEDGER_CALLS = (("fetch_funding_history", "fetchFundingHistory"), ("fetch_ledger", "fetchLedger"))


async def fetch_fills(
    session: VenueCalls, since: int, until: int | None, now: int, max_pages: int, on_page: PageSink
) -> HistoryRead:
    return await _oldest_first(session, "fetch_my_trades", FILL_PAGE, since, until, max_pages, on_page)


async def fetch_ledger(
    session: VenueCalls, since: int, until: int | None, now: int, max_pages: int, on_page: PageSink
) -> HistoryRead:
    address = getattr(session.client, "walletAddress", None)

    async def with_address(rows: list[Row]) -> None:
        await on_page([{**row, "account": address} for row in rows])

    has = session.client.has
    reads = [
        await _oldest_first(session, method, LEDGER_PAGE, since, until, max_pages, with_address)
        for method, call in _LEDGER_CALLS
        if has_call(has, call)
    ]
    return merge_reads(reads)


async def _oldest_first(
    session: VenueCalls,
    method: str,
    page_size: int,
    since: int,
    until: int | None,
    max_pages: int,
    on_page: PageSink,
) -> HistoryRead:
    """Move ``startTime`` to the newest row of each full page.

    The next page starts at that millisecond again, so only the rows of that millisecond can
    come twice: their keys are all the read remembers. Rows are told apart by ``id`` and time
    (funding rows share the zero hash). A full page whose rows were all seen already (a whole
    page in one millisecond) cannot move ``startTime``; the read ends there as complete, which no
    venue history we know can reach.
    """
    seen: set[str] = set()
    read = PageStamps()
    params = {} if until is None else {"until": until}
    for _ in range(max_pages):
        page = await session.call(method, None, since, None, params)
        fresh = [r for r in page if _key(r) not in seen]
        stamped = read.add(page)
        newest = read.newest if read.newest is not None else since
        seen = {_key(r) for r in page if r.get("timestamp") == newest}
        await on_page(fresh)
        if len(page) < page_size or not fresh or not stamped or newest <= since:
            return HistoryRead(complete=True)
        del page, fresh  # not held while the next page is fetched (issue 18)
        since = newest
    return HistoryRead(complete=False, resume_from_ms=since)


def _key(row: Row) -> str:
    return f"{row.get('id')}:{row.get('timestamp')}:{row.get('symbol')}"
