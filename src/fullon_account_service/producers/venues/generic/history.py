"""Paging of a venue we know nothing special about: one ccxt call per read, taken as complete.

No venue without its own adapter is simulated or tested, so nothing here guesses at pages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fullon_account_service.producers.history import HistoryRead, PageSink, Row, closed_method, has_call

if TYPE_CHECKING:
    from fullon_account_service.producers.calls import VenueCalls


async def fetch_open_orders(session: VenueCalls) -> list[Row]:
    """Open orders are few by nature (venues cap them per account): one call."""
    result: list[Row] = await session.call("fetch_open_orders")
    return result


async def fetch_closed_orders(
    session: VenueCalls, since: int, until: int | None, now: int, max_pages: int, on_page: PageSink
) -> HistoryRead:
    params = {} if until is None else {"until": until}
    await on_page(await session.call(closed_method(session), None, since, None, params))
    return HistoryRead(complete=True)


async def fetch_fills(
    session: VenueCalls, since: int, until: int | None, now: int, max_pages: int, on_page: PageSink
) -> HistoryRead:
    params = {} if until is None else {"until": until}
    await on_page(await session.call("fetch_my_trades", None, since, None, params))
    return HistoryRead(complete=True)


async def fetch_ledger(
    session: VenueCalls, since: int, until: int | None, now: int, max_pages: int, on_page: PageSink
) -> HistoryRead:
    """``fetch_ledger`` where ccxt's ``has`` says the venue has it; nothing (complete) otherwise."""
    if has_call(session.client.has, "fetchLedger"):
        params = {} if until is None else {"until": until}
        await on_page(await session.call("fetch_ledger", None, since, None, params))
    return HistoryRead(complete=True)


async def fetch_pending_transfers(
    session: VenueCalls, since: int, until: int | None, now: int, max_pages: int, on_page: PageSink
) -> HistoryRead:
    """Nothing: a ccxt ledger lists an entry once it moved the balance, so nothing waits."""
    return HistoryRead(complete=True)
