"""Ask the venue about single orders the service last saw open and no list mentions any more.

After a restart or a reconnect an order seen open may have been canceled or filled while nobody
watched. The open list and the closed history since the cursor do not always show it (ccxt's
``since`` filters closed orders by creation time, and an old order was created long before), so
each such order is queried by id, as ccxt lets us per venue:

- kraken: ``fetch_order`` (QueryOrders by txid);
- bybit: the order history by ``orderId`` from the order's creation (a 7-day window, any age),
  then ``fetch_order`` (``/v5/order/realtime`` by ``orderId``: open orders and the account's
  500 most recent closed ones) when the creation time is unknown or the history has nothing;
- hyperliquid: ``fetch_order`` (``orderStatus`` by oid).

An order the venue does not know, or will not look up (a malformed id or symbol), is reported
back, never given a status: the caller keeps it and warns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ccxt

from fullon_account_service.errors import AccountServiceError, FatalError
from fullon_account_service.producers.open_orders import TrackedOrder
from fullon_account_service.producers.session import AccountSession

_NOT_FOUND = (ccxt.OrderNotFound, ccxt.InvalidOrder)


@dataclass(slots=True)
class Resolution:
    rows: list[dict[str, Any]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


async def resolve(session: AccountSession, orders: Sequence[tuple[str, TrackedOrder]]) -> Resolution:
    """One query (two on Bybit at most) per order; rate limits, credential errors and outages
    propagate (the cycle is retried)."""
    out = Resolution()
    for order_id, tracked in orders:
        row = await _query(session, order_id, tracked)
        if row is None:
            out.unknown.append(order_id)
        else:
            out.rows.append(row)
    return out


async def _query(session: AccountSession, order_id: str, tracked: TrackedOrder) -> dict[str, Any] | None:
    symbol = tracked.symbol or None
    if session.ref.venue == "bybit":
        if tracked.created_ms is not None:
            rows = await _call(
                session,
                "fetch_canceled_and_closed_orders",
                symbol,
                tracked.created_ms,
                None,
                {"orderId": order_id},
            )
            found = _match(rows, order_id)
            if found is not None:
                return found
        return _match(await _call(session, "fetch_order", order_id, symbol, {"acknowledged": True}), order_id)
    return _match(await _call(session, "fetch_order", order_id, symbol), order_id)


async def _call(session: AccountSession, method: str, *args: Any) -> Any:
    """The call's answer, or ``None`` when the venue says it has no such order or refuses the
    question for this order alone (a bad id or symbol): one odd entry never stops the others."""
    try:
        return await session.call(method, *args)
    except FatalError:
        return None
    except AccountServiceError as e:
        cause = e.__cause__
        if isinstance(cause, _NOT_FOUND) or not isinstance(cause, ccxt.BaseError):
            return None  # not found, or ccxt could not even build the request for this id
        raise


def _match(answer: Any, order_id: str) -> dict[str, Any] | None:
    rows = answer if isinstance(answer, list) else [answer]
    for row in rows:
        if isinstance(row, dict) and str(row.get("id")) == order_id:
            return row
    return None
