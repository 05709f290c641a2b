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
