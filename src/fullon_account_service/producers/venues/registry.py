"""Exchange id -> venue adapter; an id without its own folder gets the generic ccxt adapter."""

from __future__ import annotations

from fullon_account_service.producers.venues import bybit, generic, hyperliquid, kraken
from fullon_account_service.producers.venues.adapter import VenueAdapter

ADAPTERS: dict[str, VenueAdapter] = {
    adapter.name: adapter for adapter in (bybit.ADAPTER, hyperliquid.ADAPTER, kraken.ADAPTER)
}
GENERIC = generic.ADAPTER


def adapter_for(venue: str) -> VenueAdapter:
    return ADAPTERS.get(venue, GENERIC)
