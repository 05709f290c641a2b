"""Kraken's ``balances`` channel carries totals only and is silent when only the split moves: an
order placed, amended or cancelled changes what is held (``used``) without changing any total, so
each order update over WebSocket asks for a REST balance read (``producers.balance_split``). The
same channel's updates carry the ledger rows that moved the balance (``ledger_id``, type, fee)."""

from __future__ import annotations

from fullon_account_service.producers.venues.adapter import Quirks

QUIRKS = Quirks(split_only_over_rest=True, ledger_stream=True)
