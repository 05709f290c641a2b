"""When a venue's WebSocket cannot keep the stored free/used split right, and REST must.

Kraken's ``balances`` channel carries totals only and is silent when only the split moves: an
order placed, amended or cancelled changes what is held (``used``) without changing any total.
On such venues (``Quirks.split_only_over_rest`` in their adapter) each order update over
WebSocket asks for one REST balance read (the poller coalesces the requests of one cycle), so the
split the cache holds at rest is the venue's, not the one from before the order. Totals-only
balance messages ask for it too (``LiveAccountCollector``).
"""

from __future__ import annotations

from fullon_account_service.contract import OrderUpdate
from fullon_account_service.producers.normalise import Batch
from fullon_account_service.producers.venues import adapter_for


def orders_move_split(venue: str, batch: Batch) -> bool:
    """Whether ``batch`` (orders seen over WebSocket) may have changed a split only REST tells."""
    return adapter_for(venue).quirks.split_only_over_rest and any(
        isinstance(e.payload, OrderUpdate) for e in batch.envelopes
    )
