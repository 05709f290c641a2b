"""Small helpers the per-venue correction modules share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class NotAFill(ValueError):
    """A venue execution that is not a trade (a funding payment): never published as a fill."""


class NotALedgerEntry(ValueError):
    """A venue ledger row that a fill already accounts for (a trade's cash flow or its fee), or
    one that moves nothing the account's published balances hold: never published as a ledger
    entry."""


class PendingLedgerEntry(NotALedgerEntry):
    """A deposit or withdrawal the venue lists before it moved the balance: not published yet,
    but followed (``pending_ledger``) from ``since_ms`` until the venue says how it ended."""

    def __init__(self, key: str, since_ms: int) -> None:
        super().__init__(f"{key} is pending")
        self.key = key
        self.since_ms = since_ms


class VoidLedgerEntry(NotALedgerEntry):
    """A deposit or withdrawal that ended without moving the balance (failed, canceled,
    rejected): nothing to publish, and no longer followed."""

    def __init__(self, key: str, status: object) -> None:
        super().__init__(f"{key} ended {status}: nothing booked")
        self.key = key


def transfer_key(reason: str, record_id: object) -> str:
    """How a deposit or withdrawal record is followed while pending: ``{reason}:{id}``."""
    return f"{reason}:{record_id}"


def raw(value: Any) -> str | None:
    """A raw venue value as text; ``None`` and ``""`` (the venues' "not set") are ``None``."""
    if value is None or value == "":
        return None
    return str(value)


def nonzero(value: Any) -> str | None:
    """Raw numeric text unless absent or zero (venues send ``"0"`` for "no trigger price")."""
    text = raw(value)
    if text is None:
        return None
    try:
        return None if float(text) == 0 else text
    except ValueError:
        return text


def fee(cost: Any, currency: str | None) -> dict[str, Any]:
    return {"fee": {"cost": cost, "currency": currency}}


def market_field(market: Mapping[str, Any], name: str) -> str | None:
    value = market.get(name)
    return str(value) if value else None
