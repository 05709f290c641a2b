"""Per-venue corrections of ccxt's unified orders and fills: the venue's meaning, not ccxt's guess.

Each venue module (``bybit``, ``kraken``, ``hyperliquid``) reads the raw row ccxt keeps in
``info`` and returns the unified keys it corrects, plus our own keys that ccxt has no slot for:
``protectionPrice`` (a market order's worst price), ``execKind`` (liquidation / ADL / bust). A
fill that is not a trade at all (a funding payment) raises ``NotAFill``. docs/fields.md lists every
correction per venue.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fullon_account_service.producers.normalise import bybit, hyperliquid, kraken
from fullon_account_service.producers.normalise.common import NotAFill

__all__ = ["NotAFill", "order_fixes", "trade_fixes"]

Fix = Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]

_ORDER: dict[str, Fix] = {
    "bybit": bybit.order_fixes,
    "kraken": kraken.order_fixes,
    "hyperliquid": hyperliquid.order_fixes,
}
_TRADE: dict[str, Fix] = {
    "bybit": bybit.trade_fixes,
    "kraken": kraken.trade_fixes,
    "hyperliquid": hyperliquid.trade_fixes,
}


def _apply(
    table: Mapping[str, Fix], venue: str, row: dict[str, Any], market: Mapping[str, Any]
) -> dict[str, Any]:
    fix = table.get(venue)
    info = row.get("info")
    if fix is None or not isinstance(info, dict):
        return row
    changes = fix(row, info, market)
    return {**row, **changes} if changes else row


def order_fixes(venue: str, row: dict[str, Any], market: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` with the venue's meaning of type, price, trigger, client id, status and fee."""
    return _apply(_ORDER, venue, row, market)


def trade_fixes(venue: str, row: dict[str, Any], market: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` with the venue's fee and fee currency and its execution kind; raises ``NotAFill``."""
    return _apply(_TRADE, venue, row, market)
