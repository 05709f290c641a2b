"""Hyperliquid keeps a perp account and a spot wallet apart (summed per currency, see
``normalise.wallets``), and its position stream pushes the whole ``clearinghouseState`` of the
main dex. That is the perp account only: the spot wallet is read over REST, so a spot fill or
order, or a transfer, asks for a REST balance read and holds the sums back until it
(``unpushed_wallet``). Its ledger is two histories: funding (``fetchFundingHistory``) and the
other balance changes (``fetchLedger``), both also pushed on subscriptions of their own
(``userFundings``, ``userNonFundingLedgerUpdates``; see ``reads.ledger_streams``)."""

from __future__ import annotations

from fullon_account_service.producers.venues.adapter import Quirks

QUIRKS = Quirks(
    wallets=("perp", "spot"),
    unpushed_wallet="spot",
    ws_positions_complete=True,
    ledger_calls=("fetchFundingHistory", "fetchLedger"),
    ledger_stream=True,
)
