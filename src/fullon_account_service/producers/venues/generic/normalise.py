"""A plain ccxt venue: ccxt's unified reading is taken as it is (see docs/fields.md).

No corrections of orders or fills; a WebSocket balance carries the currencies of the message with
the unified meaning; one wallet. A venue whose raw rows mean something else gets its own folder.

Ledger rows (``fetch_ledger``) are read from ccxt's unified entry: the amount is signed by its
``direction`` and the reason comes from ccxt's unified ``type`` (``transaction`` and ``transfer``
by direction, ``rebate`` / ``cashback`` / ``referral`` as rebates); ``trade`` and ``fee`` rows
are a fill's cash flow, already published as the fill, and are left out; any other type is
``other`` with ccxt's word kept in ``raw_type``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fullon_account_service.contract import CurrencyBalance, LedgerReason
from fullon_account_service.errors import ContractError
from fullon_account_service.producers.fields import balance_rows, number
from fullon_account_service.producers.venues.adapter import CurrencyCode, WsBalance
from fullon_account_service.producers.venues.common import NotALedgerEntry

_FILL_TYPES = frozenset({"trade", "fee"})
_REASONS = {
    "rebate": LedgerReason.REBATE,
    "cashback": LedgerReason.REBATE,
    "referral": LedgerReason.REBATE,
    "funding": LedgerReason.FUNDING,
    "interest": LedgerReason.INTEREST,
    "adjustment": LedgerReason.ADJUSTMENT,
    "liquidation": LedgerReason.LIQUIDATION,
}
_BY_DIRECTION = {
    "transaction": (LedgerReason.DEPOSIT, LedgerReason.WITHDRAWAL),
    "deposit": (LedgerReason.DEPOSIT, LedgerReason.WITHDRAWAL),
    "withdrawal": (LedgerReason.DEPOSIT, LedgerReason.WITHDRAWAL),
    "transfer": (LedgerReason.TRANSFER_IN, LedgerReason.TRANSFER_OUT),
}


def order_fixes(row: Mapping[str, Any], info: Mapping[str, Any], market: Mapping[str, Any]) -> dict[str, Any]:
    return {}


def trade_fixes(row: Mapping[str, Any], info: Mapping[str, Any], market: Mapping[str, Any]) -> dict[str, Any]:
    return {}


def ws_balance(
    balance: Mapping[str, Any],
    code: CurrencyCode,
    rest: Mapping[str, CurrencyBalance],
    markets: Mapping[str, Any],
) -> WsBalance:
    rows, rejected = balance_rows(balance)
    if rejected:
        raise ContractError("; ".join(rejected))
    return rows, False


def rest_balance(balance: Mapping[str, Any]) -> dict[str, CurrencyBalance] | None:
    return None


def wallet_of(info: Any) -> str | None:
    return None


def signed_amount(row: Mapping[str, Any]) -> float | None:
    """ccxt's unsigned ``amount`` signed by its ``direction`` (``out``: negative)."""
    amount = number(dict(row), "amount", signed=True)
    if amount is None:
        return None
    return -abs(amount) if row.get("direction") == "out" else amount


def reason_of(kind: str, amount: float | None, table: Mapping[str, LedgerReason]) -> LedgerReason:
    """``kind`` through ``table``, or by the sign for deposits and transfers; ``other`` else."""
    if kind in table:
        return table[kind]
    if kind in _BY_DIRECTION:
        inward, outward = _BY_DIRECTION[kind]
        return outward if amount is not None and amount < 0 else inward
    return LedgerReason.OTHER


def ledger_fixes(
    row: Mapping[str, Any], info: Mapping[str, Any], markets: Mapping[str, Any]
) -> dict[str, Any]:
    kind = str(row.get("type") or "")
    if kind in _FILL_TYPES:
        raise NotALedgerEntry(f"ledger type {kind!r} is a fill's cash flow")
    amount = signed_amount(row)
    return {"signedAmount": amount, "reason": reason_of(kind, amount, _REASONS), "rawType": kind or None}


def ws_ledger(message: Mapping[str, Any], code: CurrencyCode) -> list[dict[str, Any]]:
    """No stream we know of a plain ccxt venue carries ledger rows."""
    return []
