"""Bybit v5 unified account (linear perps and spot), as ccxt reads it and where we read it otherwise."""

from __future__ import annotations

from fullon_account_service.producers.venues.adapter import VenueAdapter
from fullon_account_service.producers.venues.bybit import capabilities, history, normalise, reads

ADAPTER = VenueAdapter("bybit", capabilities, history, normalise, reads)
