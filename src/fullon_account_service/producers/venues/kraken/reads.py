"""Kraken reads as plain ccxt: one balance call (spot wallet), no positions (spot has none), and
``fetch_order`` (QueryOrders by txid) for one order."""

from __future__ import annotations

from fullon_account_service.producers.venues.generic import reads as generic

balance_params = generic.balance_params
wallets = generic.wallets
position_params = generic.position_params
ledger_streams = generic.ledger_streams
query_order = generic.query_order
