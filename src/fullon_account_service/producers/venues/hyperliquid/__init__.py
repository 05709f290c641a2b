"""Hyperliquid perps (with HIP-3 dexes) and spot, as ccxt reads them and where we read them otherwise."""

from __future__ import annotations

from fullon_account_service.producers.venues.adapter import VenueAdapter
from fullon_account_service.producers.venues.hyperliquid import capabilities, history, normalise, reads

ADAPTER = VenueAdapter("hyperliquid", capabilities, history, normalise, reads)
