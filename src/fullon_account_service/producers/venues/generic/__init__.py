"""The adapter of any exchange id without its own folder: ccxt's unified reading, one call per read."""

from __future__ import annotations

from fullon_account_service.producers.venues.adapter import VenueAdapter
from fullon_account_service.producers.venues.generic import capabilities, history, normalise, reads

ADAPTER = VenueAdapter("generic", capabilities, history, normalise, reads)
