"""Bybit order lookup: the order history by ``orderId`` from the order's creation (a 7-day window,
any age), then ``fetch_order`` (``/v5/order/realtime`` by ``orderId``: open orders and the account's
500 most recent closed ones) when the creation time is unknown or the history has nothing.
Balances and positions are one call each (the unified account).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fullon_account_service.producers.order_query import call_for_order, match
from fullon_account_service.producers.venues.generic import reads as generic

if TYPE_CHECKING:
    from fullon_account_service.producers.calls import VenueCalls
    from fullon_account_service.producers.open_orders import TrackedOrder

balance_params = generic.balance_params
wallets = generic.wallets
position_params = generic.position_params
ledger_streams = generic.ledger_streams


async def query_order(session: VenueCalls, order_id: str, tracked: TrackedOrder) -> dict[str, Any] | None:
    symbol = tracked.symbol or None
    if tracked.created_ms is not None:
        rows = await call_for_order(
            session,
            "fetch_canceled_and_closed_orders",
            symbol,
            tracked.created_ms,
            None,
            {"orderId": order_id},
        )
        found = match(rows, order_id)
        if found is not None:
            return found
    return match(
        await call_for_order(session, "fetch_order", order_id, symbol, {"acknowledged": True}), order_id
    )
