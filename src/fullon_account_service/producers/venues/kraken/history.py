"""Kraken paging: TradesHistory / ClosedOrders answer 50 rows per call, newest first.

Trades are ordered by time, closed orders by closing time (asked with ``closetime=close``), paged
by the ``ofs`` offset (ccxt has no pagination for them). A cut read holds the newest rows: the gap
is ``[since, oldest time read]``, everything after it was read. ``end`` is in whole seconds, so a
cut read makes progress unless one second holds a whole budget of rows (2,500 fills). Open orders
are one call. The ledger (``Ledgers``) pages the same way, by entry time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fullon_account_service.producers.history import (
    HistoryRead,
    PageSink,
    PageStamps,
    Row,
    closed_method,
    has_call,
    time_ms,
)
from fullon_account_service.producers.venues.generic import history as generic

if TYPE_CHECKING:
    from fullon_account_service.producers.calls import VenueCalls

PAGE = 50

fetch_open_orders = generic.fetch_open_orders
fetch_pending_transfers = generic.fetch_pending_transfers
"""Kraken's ``Ledgers`` holds a row once the balance moved (a deposit once credited), so nothing
waits on ``DepositStatus`` / ``WithdrawStatus``."""


def _ceil_s(ms: int) -> int:
    """Kraken's inclusive ``end``, in whole seconds, covering ``ms`` (ccxt's ``until`` would
    add a second, and sends milliseconds for ClosedOrders)."""
    return -(-ms // 1000)


def _closed_ms(row: Row) -> int | None:
    """Kraken orders its closed orders by closing time (``closetm``), not by ccxt's timestamp
    (the opening time): a cut read's boundary is the oldest closing time read."""
    info = row.get("info")
    try:
        return int(float(info["closetm"]) * 1000) if isinstance(info, dict) else None
    except (KeyError, TypeError, ValueError):
        return None


async def fetch_closed_orders(
    session: VenueCalls, since: int, until: int | None, now: int, max_pages: int, on_page: PageSink
) -> HistoryRead:
    """``start`` goes to Kraken as a parameter, not as ccxt's ``since``: ccxt drops the rows of a
    page opened before ``since`` (it filters on the opening time) while Kraken selects and pages by
    closing time, so an order opened before the read and closed in it made a full page look short,
    and the orders of the pages below it were never read."""
    extra: dict[str, Any] = {"closetime": "close", "start": since // 1000}
    if until is not None:
        extra["end"] = _ceil_s(until)
    method = closed_method(session)
    return await _newest_first(
        session, method, since, until, now, extra, max_pages, _closed_ms, on_page, start_in_extra=True
    )


async def fetch_fills(
    session: VenueCalls, since: int, until: int | None, now: int, max_pages: int, on_page: PageSink
) -> HistoryRead:
    extra = {} if until is None else {"end": _ceil_s(until)}
    return await _newest_first(
        session, "fetch_my_trades", since, until, now, extra, max_pages, time_ms, on_page
    )


async def fetch_ledger(
    session: VenueCalls, since: int, until: int | None, now: int, max_pages: int, on_page: PageSink
) -> HistoryRead:
    if not has_call(session.client.has, "fetchLedger"):
        return HistoryRead(complete=True)
    extra = {} if until is None else {"end": _ceil_s(until)}
    return await _newest_first(session, "fetch_ledger", since, until, now, extra, max_pages, time_ms, on_page)


async def _newest_first(
    session: VenueCalls,
    method: str,
    since: int,
    until: int | None,
    now: int,
    extra: dict[str, Any],
    max_pages: int,
    stamp: Callable[[Row], int | None],
    on_page: PageSink,
    *,
    start_in_extra: bool = False,
) -> HistoryRead:
    """``ofs`` pages, newest first by ``stamp``. A full last page at the budget means older rows
    remain: the gap ends at the oldest ``stamp`` read. ``start_in_extra``: ``extra`` carries
    Kraken's ``start``, and ccxt gets no ``since`` to filter the rows by."""
    read = PageStamps(stamp)
    client_since = None if start_in_extra else since
    for page_number in range(max_pages):
        page = await session.call(method, None, client_since, None, {**extra, "ofs": page_number * PAGE})
        read.add(page)
        await on_page(page)
        if len(page) < PAGE:
            return HistoryRead(complete=True)
        del page  # not held while the next page is fetched: one page per read in memory (issue 18)
    return HistoryRead(
        complete=False,
        resume_from_ms=since,
        gap_until_ms=read.oldest if read.oldest is not None else since,
        read_to_ms=until if until is not None else now,
    )
