"""Bybit has none of the quirks ``Quirks`` names: one unified wallet, and its position stream
sends the rows that changed."""

from __future__ import annotations

from fullon_account_service.producers.venues.adapter import Quirks

QUIRKS = Quirks()
