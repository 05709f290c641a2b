"""Kraken spot (REST + WebSocket v2), as ccxt reads it and where we read it otherwise."""

from __future__ import annotations

from fullon_account_service.producers.venues.adapter import VenueAdapter
from fullon_account_service.producers.venues.kraken import capabilities, history, normalise, reads

ADAPTER = VenueAdapter("kraken", capabilities, history, normalise, reads)
