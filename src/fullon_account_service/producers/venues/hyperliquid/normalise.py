"""Hyperliquid: what ``/info`` and ``/ws`` rows mean where ccxt reads them otherwise.

- Fees: a fill's ``fee`` is the total fee, inclusive of the optional ``builderFee``; ccxt adds
  ``builderFee`` to it a second time. We publish ``fee`` in ``feeToken``.
- Liquidations: a fill with a ``liquidation`` object is marked ``liquidation``.
- Order types: ``orderType`` (``Limit``, ``Market``, ``Stop Market``, ``Stop Limit``,
  ``Take Profit Market``, ``Take Profit Limit``); ``triggerPx`` is the trigger of ``isTrigger``
  orders. ``orderUpdates`` rows carry no type: the normaliser keeps the type learned before.
- A market order rests as an IOC limit at a slippage price (``limitPx``): that is its
  protection price, not a price it traded at.
- Balances: ``accountValue`` is equity (wallet + unrealised pnl) and WS ``free`` is
  ``withdrawable``. We publish total = accountValue - the positions' unrealised pnl (the wallet
  balance, like Bybit's walletBalance), used = totalMarginUsed, free = total - used, on REST and WS
  alike; a ``clearinghouseState`` message is the whole perp account.
- Wallets: the perp account (``clearinghouseState``, it has ``marginSummary``) and the spot
  wallet (``spotClearinghouseState``) are read apart and summed per currency (``wallets``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fullon_account_service.contract import CurrencyBalance, ExecKind
from fullon_account_service.errors import ContractError
from fullon_account_service.producers.fields import number, required_text
from fullon_account_service.producers.venues.adapter import CurrencyCode, WsBalance
from fullon_account_service.producers.venues.common import fee, nonzero, raw

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


def _perp(state: Mapping[str, Any]) -> CurrencyBalance:
    """USDC of a ``clearinghouseState``: wallet = accountValue - unrealised pnl of the positions."""
    summary = state.get("marginSummary")
    if not isinstance(summary, dict):
        raise ContractError("hyperliquid clearinghouseState without marginSummary")
    equity = number(summary, "accountValue", signed=True)
    used = number(summary, "totalMarginUsed")
    upnl = 0.0
    for item in state.get("assetPositions") or []:
        position = item.get("position") if isinstance(item, dict) else None
        if not isinstance(position, dict):
            raise ContractError("hyperliquid assetPositions row without position")
        upnl += number(position, "unrealizedPnl", signed=True) or 0.0
    total = equity - upnl if equity is not None else None
    if total is not None and total < 0:
        raise ContractError(f"hyperliquid wallet balance {total} is negative")
    free = total - used if total is not None and used is not None and total >= used else None
    return CurrencyBalance(total=total, free=free, used=used)


def ws_balance(
    balance: Mapping[str, Any], code: CurrencyCode, rest: Mapping[str, CurrencyBalance]
) -> WsBalance:
    info = balance.get("info")
    if isinstance(info, dict):
        return {"USDC": _perp(info)}, True
    if isinstance(info, list):
        rows: dict[str, CurrencyBalance] = {}
        for item in info:
            if not isinstance(item, dict):
                raise ContractError("hyperliquid spot balance row is not an object")
            total, used = number(item, "total"), number(item, "hold")
            free = total - used if total is not None and used is not None and total >= used else None
            rows[code(required_text(item, "coin"))] = CurrencyBalance(total=total, free=free, used=used)
        return rows, False
    raise ContractError("hyperliquid balance message without clearinghouseState or spotState")


def rest_balance(balance: Mapping[str, Any]) -> dict[str, CurrencyBalance] | None:
    info = balance.get("info")
    if isinstance(info, dict) and "marginSummary" in info:
        return {"USDC": _perp(info)}
    return None


def wallet_of(info: Any) -> str | None:
    return "perp" if isinstance(info, dict) and "marginSummary" in info else "spot"
