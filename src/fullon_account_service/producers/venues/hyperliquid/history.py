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

from dataclasses import replace
from typing import TYPE_CHECKING

from fullon_account_service.producers.history import HistoryRead, Row, has_call, merge_reads, stamps
from fullon_account_service.producers.venues.generic import history as generic

if TYPE_CHECKING:
    from fullon_account_service.producers.calls import VenueCalls

fetch_closed_orders = generic.fetch_closed_orders
fetch_open_orders = generic.fetch_open_orders

FILL_PAGE = 2000
LEDGER_PAGE = 500
_LEDGER_CALLS = (("fetch_funding_history", "fetchFundingHistory"), ("fetch_ledger", "fetchLedger"))


async def fetch_fills(
    session: VenueCalls, since: int, until: int | None, now: int, max_pages: int
) -> HistoryRead:
    return await _oldest_first(session, "fetch_my_trades", FILL_PAGE, since, until, max_pages)


async def fetch_ledger(
    session: VenueCalls, since: int, until: int | None, now: int, max_pages: int
) -> HistoryRead:
    has = session.client.has
    reads = [
        await _oldest_first(session, method, LEDGER_PAGE, since, until, max_pages)
        for method, call in _LEDGER_CALLS
        if has_call(has, call)
    ]
    merged = merge_reads(reads)
    address = getattr(session.client, "walletAddress", None)
    return replace(merged, rows=[{**row, "account": address} for row in merged.rows])


async def _oldest_first(
    session: VenueCalls, method: str, page_size: int, since: int, until: int | None, max_pages: int
) -> HistoryRead:
    """Move ``startTime`` to the newest row of each full page.

    A full page whose rows were all seen already (a whole page in one millisecond) cannot move
    ``startTime``; the read ends there as complete, which no venue history we know can reach.
    Rows are told apart by ``id`` and time (funding rows share the zero hash)."""
    rows: list[Row] = []
    seen: set[str] = set()
    params = {} if until is None else {"until": until}
    for _ in range(max_pages):
        page = await session.call(method, None, since, None, params)
        fresh = [r for r in page if _key(r) not in seen]
        rows.extend(fresh)
        seen.update(_key(r) for r in fresh)
        times = stamps(page)
        if len(page) < page_size or not fresh or not times or max(times) <= since:
            return HistoryRead(rows, complete=True)
        since = max(times)
    return HistoryRead(rows, complete=False, resume_from_ms=since)


def _key(row: Row) -> str:
    return f"{row.get('id')}:{row.get('timestamp')}:{row.get('symbol')}"
