"""Ask the venue about single orders the service last saw open and no list mentions any more.

After a restart or a reconnect an order seen open may have been canceled or filled while nobody
watched. The open list and the closed history since the cursor do not always show it (ccxt's
``since`` filters closed orders by creation time, and an old order was created long before), so
each such order is queried by id through its venue adapter's ``reads.query_order``: ccxt's
``fetch_order`` (Kraken QueryOrders by txid, Hyperliquid ``orderStatus`` by oid), or Bybit's
order history first.

An order the venue does not know, or will not look up (a malformed id or symbol), is reported
back, never given a status: the caller keeps it and warns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fullon_account_service.producers.open_orders import TrackedOrder
from fullon_account_service.producers.session import AccountSession
from fullon_account_service.producers.venues import adapter_for


@dataclass(slots=True)
class Resolution:
    rows: list[dict[str, Any]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


async def resolve(session: AccountSession, orders: Sequence[tuple[str, TrackedOrder]]) -> Resolution:
    """One query (two on Bybit at most) per order; rate limits, credential errors and outages
    propagate (the cycle is retried)."""
    out = Resolution()
    query = adapter_for(session.ref.venue).reads.query_order
    for order_id, tracked in orders:
        row = await query(session, order_id, tracked)
        if row is None:
            out.unknown.append(order_id)
        else:
            out.rows.append(row)
    return out
