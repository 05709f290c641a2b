"""Which ledger entries each venue has, under which of its own type words, and how it rounds them.

The core books entries venue-neutrally (``CashLedger.book``); this table is the little it must know
per venue so the ground truth carries the same ``raw_type`` and the same digits the venue's
endpoints show. A venue without a word for a reason does not get entries of that reason.
"""

from __future__ import annotations

from fullon_account_service.simulator.model import LedgerReason

RAW_TYPES: dict[str, dict[LedgerReason, str]] = {
    "bybit": {
        "funding": "SETTLEMENT",
        "deposit": "DEPOSIT",
        "withdrawal": "WITHDRAW",
        "transfer_in": "TRANSFER_IN",
        "transfer_out": "TRANSFER_OUT",
        "rebate": "FEE_REFUND",
        "interest": "INTEREST",
        "adjustment": "BONUS",
    },
    "hyperliquid": {
        "funding": "funding",
        "deposit": "deposit",
        "withdrawal": "withdraw",
        "transfer_in": "subAccountTransfer",
        "transfer_out": "subAccountTransfer",
    },
    "kraken": {
        "deposit": "deposit",
        "withdrawal": "withdrawal",
        "transfer_in": "transfer",
        "transfer_out": "transfer",
        "rebate": "credit",
        "adjustment": "adjustment",
    },
}
"""Bybit: transaction-log ``type`` (deposits and withdrawals are only in the asset records, named
after their endpoints); Hyperliquid: ``delta.type``; Kraken: the Ledgers ``type``."""

LIQUIDATION_TYPES = {"bybit": "LIQUIDATION", "hyperliquid": "liquidation"}
"""The word of the ledger row a venue lists beside a liquidation fill (Bybit: ``ADL`` for an
auto-deleveraging); such rows are only recorded by ``CashLedger.note_liquidation``, never booked."""


def liquidation_type(venue: str, exec_kind: str | None) -> str:
    if venue == "bybit" and exec_kind == "adl":
        return "ADL"
    return LIQUIDATION_TYPES.get(venue, "liquidation")


HYPERLIQUID_WITHDRAWAL_FEE = 1.0
"""USDC, flat, as the venue charges a withdrawal to the bridge."""
WITHDRAWAL_FEE_RATE = 0.001
"""Share of the amount the other venues charge for a withdrawal (their fees are flat per network;
a share keeps the simulated fee sensible for every currency)."""

_FIAT = frozenset({"USD", "EUR"})


def raw_type(venue: str, reason: LedgerReason) -> str:
    try:
        return RAW_TYPES[venue][reason]
    except KeyError:
        raise ValueError(f"{venue} has no {reason} ledger entries") from None


def reasons(venue: str) -> tuple[LedgerReason, ...]:
    return tuple(RAW_TYPES.get(venue, {}))


def cash_decimals(venue: str, currency: str) -> int:
    """Decimals of a ledger amount: Kraken 4 for fiat and 8 for coins, Hyperliquid's USDC 6, Bybit 8."""
    if venue == "kraken":
        return 4 if currency in _FIAT else 8
    return 6 if venue == "hyperliquid" else 8


def withdrawal_fee(venue: str, currency: str, amount: float) -> float:
    if venue == "hyperliquid":
        return HYPERLIQUID_WITHDRAWAL_FEE
    return round(amount * WITHDRAWAL_FEE_RATE, cash_decimals(venue, currency))
