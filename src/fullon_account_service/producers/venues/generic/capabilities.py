"""A plain ccxt venue has none of the quirks ``Quirks`` names."""

from __future__ import annotations

from fullon_account_service.producers.venues.adapter import Quirks

QUIRKS = Quirks()
