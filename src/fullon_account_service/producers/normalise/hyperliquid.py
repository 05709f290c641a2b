"""Hyperliquid: what ``/info`` and ``/ws`` rows mean where ccxt reads them otherwise.

- Fees: a fill's ``fee`` is the total fee, inclusive of the optional ``builderFee``; ccxt adds
  ``builderFee`` to it a second time. We publish ``fee`` in ``feeToken``.
- Liquidations: a fill with a ``liquidation`` object is marked ``liquidation``.
- Order types: ``orderType`` (``Limit``, ``Market``, ``Stop Market``, ``Stop Limit``,
  ``Take Profit Market``, ``Take Profit Limit``); ``triggerPx`` is the trigger of ``isTrigger``
  orders. ``orderUpdates`` rows carry no type: the normaliser keeps the type learned before.
- A market order rests as an IOC limit at a slippage price (``limitPx``): that is its
  protection price, not a price it traded at.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fullon_account_service.contract import ExecKind
from fullon_account_service.producers.normalise.common import fee, nonzero, raw

_TYPES = {
    "limit": "limit",
    "market": "market",
    "stop market": "stop",
    "stop limit": "stop_limit",
    "take profit market": "take_profit",
    "take profit limit": "take_profit_limit",
}


def _entry(info: Mapping[str, Any]) -> Mapping[str, Any]:
    order = info.get("order")
    return order if isinstance(order, dict) else info


def order_fixes(row: Mapping[str, Any], info: Mapping[str, Any], market: Mapping[str, Any]) -> dict[str, Any]:
    entry = _entry(info)
    changes: dict[str, Any] = {}
    raw_type = raw(entry.get("orderType"))
    if raw_type is not None:
        kind = _TYPES.get(raw_type.lower(), raw_type.lower().replace(" ", "_"))
        changes["type"] = kind
        if entry.get("isTrigger") is True:
            changes["triggerPrice"] = nonzero(entry.get("triggerPx"))
        if kind in ("market", "stop", "take_profit"):
            changes["protectionPrice"] = nonzero(entry.get("limitPx"))
            changes["price"] = None
    return changes


def trade_fixes(row: Mapping[str, Any], info: Mapping[str, Any], market: Mapping[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if isinstance(info.get("liquidation"), dict):
        changes["execKind"] = ExecKind.LIQUIDATION
    cost = raw(info.get("fee"))
    if cost is not None:
        changes.update(fee(cost, raw(info.get("feeToken"))))
    return changes
