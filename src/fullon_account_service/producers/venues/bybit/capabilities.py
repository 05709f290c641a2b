"""Bybit: one unified wallet, and its position stream sends the rows that changed. Funding is
pushed on the ``execution`` stream (``Funding`` rows, which ccxt drops: ``ws_ledger`` keeps them)."""

from __future__ import annotations

from fullon_account_service.producers.venues.adapter import Quirks

QUIRKS = Quirks(ledger_stream=True, ws_orders_report_fills=True)
