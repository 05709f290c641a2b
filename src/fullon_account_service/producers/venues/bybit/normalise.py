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
- Ledger (``/v5/account/transaction-log``): ``change`` is the wallet's move, net of ``fee``
  (``cashFlow + funding - fee``); the published amount is ``change + fee``. ``TRADE`` rows are a
  fill's cash flow and are left out. ``LIQUIDATION`` (a take-over) and ``ADL`` rows are the cash
  flow of the ``BustTrade`` / ``AdlTrade`` execution published as a fill: they are published as
  ``liquidation`` entries of amount 0 (the event, its market and the balance after), so the
  money is counted once. ``SETTLEMENT`` is funding; its ``tradeId`` is the ``execId``
  of the ``Funding`` execution the ``execution`` stream pushes for it, so both readings carry one
  ledger id (other rows: ``id``). ``symbol`` (with ``category``) names the market of funding and
  liquidations; ``cashBalance`` is the balance after.
- Deposits and withdrawals are not in the transaction log: their records (ccxt transactions,
  amount unsigned, ``withdrawFee`` on top) are read beside it, and counted once ``ok``, at the
  time the venue finished them (``updated``, else the record's time); their ``raw_type`` is
  ``DEPOSIT`` / ``WITHDRAW``. One still pending is followed until it ends (``PendingLedgerEntry``);
  one that failed, was canceled or rejected moved nothing and books nothing (``VoidLedgerEntry``).
- A ``Funding`` execution (the ``execution`` stream): ``execFee`` > 0 was paid, < 0 received, in
  the settle coin. It is published as the transaction log names it (``raw_type`` ``SETTLEMENT``),
  so both channels carry the same entry; only the balance after is the log's alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fullon_account_service.contract import CurrencyBalance, ExecKind, LedgerReason
from fullon_account_service.errors import ContractError
from fullon_account_service.producers.fields import number, required_number, required_text
from fullon_account_service.producers.venues.adapter import CurrencyCode, WsBalance
from fullon_account_service.producers.venues.common import (
    NotAFill,
    NotALedgerEntry,
    PendingLedgerEntry,
    VoidLedgerEntry,
    fee,
    market_field,
    nonzero,
    raw,
    transfer_key,
)
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
_LEDGER_REASONS = {
    "SETTLEMENT": LedgerReason.FUNDING,
    "LIQUIDATION": LedgerReason.LIQUIDATION,
    "ADL": LedgerReason.LIQUIDATION,
    "TRANSFER_IN": LedgerReason.TRANSFER_IN,
    "TRANSFER_OUT": LedgerReason.TRANSFER_OUT,
    "INTEREST": LedgerReason.INTEREST,
    "FEE_REFUND": LedgerReason.REBATE,
    "BONUS": LedgerReason.ADJUSTMENT,
    "BONUS_RECOLLECT": LedgerReason.ADJUSTMENT,
    "DEPOSIT": LedgerReason.DEPOSIT,
    "WITHDRAW": LedgerReason.WITHDRAWAL,
}
_ENDED_VOID = frozenset({"failed", "fail", "canceled", "rejected"})
"""ccxt's words for a record that ended without moving the balance (``fail``: a deposit's 4)."""
_WITH_SYMBOL = frozenset({LedgerReason.FUNDING, LedgerReason.LIQUIDATION})
_CATEGORY_KIND = {"linear": "linear", "inverse": "inverse", "spot": "spot"}
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
    balance: Mapping[str, Any],
    code: CurrencyCode,
    rest: Mapping[str, CurrencyBalance],
    markets: Mapping[str, Any],
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


def market_symbol(markets: Mapping[str, Any], market_id: str | None, category: str | None) -> str | None:
    """The unified symbol of a raw Bybit ``symbol`` in ``category`` (spot and linear share ids)."""
    if market_id is None:
        return None
    kind = _CATEGORY_KIND.get(str(category or "linear"), "linear")
    for symbol, market in markets.items():
        if not isinstance(market, Mapping) or market.get("id") != market_id:
            continue
        if (kind == "spot") == bool(market.get("spot")) and (kind == "spot" or bool(market.get(kind))):
            return str(symbol)
    raise ContractError(f"unknown bybit {kind} market {market_id!r}")


def ledger_fixes(
    row: Mapping[str, Any], info: Mapping[str, Any], markets: Mapping[str, Any]
) -> dict[str, Any]:
    if "execType" in info:
        return _funding_execution(row, info, markets)
    if "txid" in row:
        return _transfer_record(row)
    kind = str(info.get("type") or "")
    if kind == "TRADE":
        raise NotALedgerEntry("bybit TRADE row is a fill's cash flow")
    reason = _LEDGER_REASONS.get(kind, LedgerReason.OTHER)
    charged = number(dict(info), "fee", signed=True) or 0.0
    changes: dict[str, Any] = {
        "signedAmount": required_number(dict(info), "change", signed=True) + charged,
        "reason": reason,
        "rawType": kind or None,
        "fee": {"cost": charged, "currency": row.get("currency")},
        "symbol": None,
    }
    if reason is LedgerReason.FUNDING and raw(info.get("tradeId")) is not None:
        changes["id"] = raw(info.get("tradeId"))
    if reason is LedgerReason.LIQUIDATION:
        # The cash flow of the BustTrade / AdlTrade execution, which is published as a fill.
        changes.update(signedAmount=0.0, fee=None)
    if reason in _WITH_SYMBOL:
        changes["symbol"] = market_symbol(markets, raw(info.get("symbol")), raw(info.get("category")))
    return changes


def _transfer_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """A deposit or withdrawal record (ccxt's transaction): counted once the venue says ``ok``."""
    deposit = row.get("type") == "deposit"
    key = transfer_key(
        LedgerReason.DEPOSIT if deposit else LedgerReason.WITHDRAWAL, required_text(dict(row), "id")
    )
    status = row.get("status")
    if status in _ENDED_VOID:
        raise VoidLedgerEntry(key, status)
    if status != "ok":
        since = number(dict(row), "timestamp")
        if since is None:
            raise ContractError(f"bybit {key} is {status} without a time")
        raise PendingLedgerEntry(key, int(since))
    amount = required_number(dict(row), "amount")
    done = {"timestamp": row.get("updated") or row.get("timestamp")}
    if deposit:
        return {**done, "signedAmount": amount, "reason": LedgerReason.DEPOSIT, "rawType": "DEPOSIT"}
    return {**done, "signedAmount": -amount, "reason": LedgerReason.WITHDRAWAL, "rawType": "WITHDRAW"}


def _funding_execution(
    row: Mapping[str, Any], info: Mapping[str, Any], markets: Mapping[str, Any]
) -> dict[str, Any]:
    if info.get("execType") != "Funding":
        raise NotALedgerEntry("bybit execution is a trade")
    symbol = market_symbol(markets, raw(info.get("symbol")), raw(info.get("category")))
    market = markets.get(symbol) if symbol is not None else None
    currency = fee_currency(info, market if isinstance(market, Mapping) else {}, info.get("side"))
    return {
        "id": required_text(dict(info), "execId"),
        "currency": currency,
        "signedAmount": -required_number(dict(info), "execFee", signed=True),
        "reason": LedgerReason.FUNDING,
        "rawType": "SETTLEMENT",
        "symbol": symbol,
        "after": None,
        "fee": None,
        "timestamp": number(dict(info), "execTime"),
    }


def ws_ledger(message: Mapping[str, Any], code: CurrencyCode) -> list[dict[str, Any]]:
    """The ``Funding`` rows of an ``execution`` message (ccxt's trade handler drops them)."""
    if not str(message.get("topic") or "").startswith("execution"):
        return []
    data = message.get("data")
    rows = data if isinstance(data, list) else []
    return [{"info": r} for r in rows if isinstance(r, dict) and r.get("execType") == "Funding"]


# One wallet, whose REST balance ccxt reads with our meaning.
rest_balance = generic.rest_balance
wallet_of = generic.wallet_of
