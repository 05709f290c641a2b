"""Bybit v5: what the raw order and execution rows mean where ccxt reads them otherwise.

- Fee currency: executions carry ``feeCurrency``, which the venue leaves ``""`` on linear
  contracts; ccxt ignores it and guesses. We take ``feeCurrency`` when set, else the venue's rule:
  contracts pay fees in the settle coin, spot in the coin received (buy: base, sell: quote).
- Orders without ``cumFeeDetail`` (older spot rows) take the fee from ``cumExecFee`` with that rule.
- A market order's ``price`` is the venue's protection limit, not a traded price.
- ``stopOrderType`` names trigger orders (``StopLoss``, ``TakeProfit``, ``TrailingStop``...);
  ``triggerPrice`` is their trigger.
- ``execType``: ``Funding`` is not a fill; ``AdlTrade``, ``BustTrade`` and ``Settle`` are marked.
- ccxt maps ``PartiallyFilledCanceled`` to closed; the order was canceled (with a partial fill).
- WS balances: ``total`` is equity; we publish ``walletBalance`` like REST, and recompute free/used
  with the REST rule (availableToWithdraw, else locked + position IM + order IM).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fullon_account_service.contract import CurrencyBalance, ExecKind
from fullon_account_service.errors import ContractError
from fullon_account_service.producers.fields import number, required_text
from fullon_account_service.producers.venues.adapter import CurrencyCode, WsBalance
from fullon_account_service.producers.venues.common import NotAFill, fee, market_field, nonzero, raw
from fullon_account_service.producers.venues.generic import normalise as generic

_TRIGGER_KINDS = {
    "Stop": "stop",
    "StopLoss": "stop",
    "PartialStopLoss": "stop",
    "tpslOrder": "stop",
    "TakeProfit": "take_profit",
    "PartialTakeProfit": "take_profit",
    "TrailingStop": "trailing_stop",
}
_EXEC_KINDS = {
    "AdlTrade": ExecKind.ADL,
    "BustTrade": ExecKind.BUST,
    "Settle": ExecKind.SETTLEMENT,
}


def fee_currency(info: Mapping[str, Any], market: Mapping[str, Any], side: Any) -> str | None:
    """The coin the venue charged: ``feeCurrency`` when set, else the venue's rule."""
    stated = raw(info.get("feeCurrency"))
    if stated is not None:
        return stated
    if market.get("contract"):
        return market_field(market, "base" if market.get("inverse") else "settle")
    return market_field(market, "base" if str(side).lower() == "buy" else "quote")


def _order_type(info: Mapping[str, Any]) -> str | None:
    kind = _TRIGGER_KINDS.get(str(info.get("stopOrderType") or ""))
    if kind is None and nonzero(info.get("triggerPrice")) is not None:
        kind = "stop"
    if kind is None:
        return None
    return kind if str(info.get("orderType")) == "Market" else f"{kind}_limit"


def order_fixes(row: Mapping[str, Any], info: Mapping[str, Any], market: Mapping[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if info.get("orderStatus") == "PartiallyFilledCanceled":
        changes["status"] = "canceled"
    trigger_type = _order_type(info)
    if trigger_type is not None:
        changes["type"] = trigger_type
        changes["triggerPrice"] = nonzero(info.get("triggerPrice"))
    if info.get("orderType") == "Market":
        changes["protectionPrice"] = nonzero(info.get("price"))
        changes["price"] = None
    if not info.get("cumFeeDetail") and nonzero(info.get("cumExecFee")) is not None:
        changes.update(fee(info["cumExecFee"], fee_currency({}, market, row.get("side"))))
    return changes


def trade_fixes(row: Mapping[str, Any], info: Mapping[str, Any], market: Mapping[str, Any]) -> dict[str, Any]:
    exec_type = str(info.get("execType") or "Trade")
    if exec_type == "Funding":
        raise NotAFill("bybit Funding execution")
    changes: dict[str, Any] = {}
    if exec_type in _EXEC_KINDS:
        changes["execKind"] = _EXEC_KINDS[exec_type]
    cost = raw(info.get("execFee"))
    if cost is not None:
        changes.update(fee(cost, fee_currency(info, market, row.get("side"))))
    return changes


def _coin_balance(row: dict[str, Any]) -> CurrencyBalance:
    """One Bybit coin row with the REST meaning of each field."""
    total = number(row, "walletBalance")
    free = number(row, "availableToWithdraw")
    if free is None:
        free = number(row, "free")
    if free is not None:
        used = total - free if total is not None and total >= free else None
        return CurrencyBalance(total=total, free=free, used=used)
    used = sum(number(row, name) or 0.0 for name in ("locked", "totalPositionIM", "totalOrderIM"))
    if total is None:
        return CurrencyBalance(used=used)
    return CurrencyBalance(total=total, free=total - used if total >= used else None, used=used)


def ws_balance(
    balance: Mapping[str, Any], code: CurrencyCode, rest: Mapping[str, CurrencyBalance]
) -> WsBalance:
    info = balance.get("info")
    if not isinstance(info, list):
        raise ContractError("bybit wallet message without a data list")
    rows: dict[str, CurrencyBalance] = {}
    for account in info:
        coins = account.get("coin") if isinstance(account, dict) else None
        if not isinstance(coins, list):
            raise ContractError("bybit wallet entry without a coin list")
        for coin in coins:
            if not isinstance(coin, dict):
                raise ContractError("bybit coin row is not an object")
            rows[code(required_text(coin, "coin"))] = _coin_balance(coin)
    return rows, False


# One wallet, whose REST balance ccxt reads with our meaning.
rest_balance = generic.rest_balance
wallet_of = generic.wallet_of
