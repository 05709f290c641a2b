"""Kraken: what REST and WebSocket v2 rows mean where ccxt reads them otherwise.

- Order types: ``descr.ordertype`` (REST) / ``order_type`` (WS) name trigger orders
  (``stop-loss``, ``take-profit``, ``trailing-stop`` and their ``-limit`` forms); ccxt folds them
  into ``market``/``limit``. Their trigger is ``descr.price`` (REST; ``stopprice`` for trailing
  stops) or ``triggers.price`` / ``stop_price`` (WS); the limit of a ``-limit`` form is ``price2``.
- Market orders have no price of their own and Kraken no protection price: ccxt gives one the
  average it traded at as ``price`` (REST: the row's ``price``, its average; WS: ``safe_order``
  copies ``avg_price``), which is the ``average`` already, at REST's rounding on one channel and
  the stream's on the other. Published without a price on both channels.
- Client ids: ``userref`` / ``order_userref`` 0 means none (ccxt makes it ``"0"``); WS v2 puts a
  client id in ``cl_ord_id``, which ccxt's WS parser does not read.
- WS order fee: ``fee_usd_equiv`` is a USD valuation, not the fee charged: left unknown.
- Fill fees: TradesHistory reports every fee in the quote currency (a fee charged in base shows as
  its value at the fill price); the executions channel reports the asset charged. A fill is
  published with the TradesHistory meaning on both channels, so either channel stores the same
  fee: a WS fee in base becomes ``qty * price``, computed in decimals (the venue may round its REST
  copy to the pair's ``cost_decimals``; then the two differ in that last digit).
- WS balances: the ``balances`` channel sends the total only. free/used are taken from the last
  REST snapshot when its total is the same number (nothing moved since), otherwise left unknown.
- Ledger (``Ledgers`` over REST, and the rows with a ``ledger_id`` an update of the WS
  ``balances`` channel carries): ``amount`` is signed and excludes ``fee``; ``balance`` is the
  balance after. ``trade`` rows are a fill's cash flow and are left out; ``rollover`` (margin
  interest) is interest; ``transfer`` is in or out by its sign; the REST key and the WS
  ``ledger_id`` are the same ledger id.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from fullon_account_service.contract import CurrencyBalance, LedgerReason
from fullon_account_service.errors import ContractError
from fullon_account_service.producers.fields import number, required_text
from fullon_account_service.producers.venues.adapter import CurrencyCode, WsBalance
from fullon_account_service.producers.venues.common import NotALedgerEntry, fee, market_field, nonzero, raw
from fullon_account_service.producers.venues.generic import normalise as generic

_TRADE = "trade"
"""A ledger row's ``type`` for the cash flow of a fill."""
_LEDGER_REASONS = {
    "deposit": LedgerReason.DEPOSIT,
    "withdrawal": LedgerReason.WITHDRAWAL,
    "rollover": LedgerReason.INTEREST,
    "adjustment": LedgerReason.ADJUSTMENT,
    "credit": LedgerReason.REBATE,
}
_TYPES = {
    "stop-loss": "stop",
    "stop-loss-limit": "stop_limit",
    "take-profit": "take_profit",
    "take-profit-limit": "take_profit_limit",
    "trailing-stop": "trailing_stop",
    "trailing-stop-limit": "trailing_stop_limit",
}


def _client_id(*values: Any) -> str | None:
    for value in values:
        text = raw(value)
        if text is not None and text != "0":
            return text
    return None


def _rest_order(info: Mapping[str, Any]) -> dict[str, Any]:
    found = info.get("descr")
    descr: Mapping[str, Any] = found if isinstance(found, dict) else {}
    changes: dict[str, Any] = {"clientOrderId": _client_id(info.get("cl_ord_id"), info.get("userref"))}
    raw_type = str(descr.get("ordertype") or "")
    if raw_type == "market":
        changes["price"] = None
    elif raw_type in _TYPES:
        kind = _TYPES[raw_type]
        changes["type"] = kind
        if kind.startswith("trailing"):
            changes["triggerPrice"] = nonzero(info.get("stopprice"))
        else:
            changes["triggerPrice"] = nonzero(descr.get("price"))
        changes["price"] = nonzero(descr.get("price2")) if kind.endswith("_limit") else None
    return changes


def _ws_order(info: Mapping[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {
        "clientOrderId": _client_id(info.get("cl_ord_id"), info.get("order_userref")),
        "fee": None,
    }
    cum_qty = info.get("cum_qty")
    if cum_qty not in (None, ""):
        changes["filled"] = cum_qty
    raw_type = str(info.get("order_type") or "")
    if raw_type == "market":
        changes["price"] = None
    elif raw_type in _TYPES:
        kind = _TYPES[raw_type]
        changes["type"] = kind
        triggers = info.get("triggers")
        trigger = triggers.get("price") if isinstance(triggers, dict) else None
        changes["triggerPrice"] = nonzero(trigger if trigger is not None else info.get("stop_price"))
        changes["price"] = nonzero(info.get("limit_price")) if kind.endswith("_limit") else None
    return changes


def order_fixes(row: Mapping[str, Any], info: Mapping[str, Any], market: Mapping[str, Any]) -> dict[str, Any]:
    return _ws_order(info) if "order_id" in info else _rest_order(info)


def trade_fixes(row: Mapping[str, Any], info: Mapping[str, Any], market: Mapping[str, Any]) -> dict[str, Any]:
    fees = info.get("fees")
    if "exec_id" not in info or not isinstance(fees, list) or not fees or not isinstance(fees[0], dict):
        return {}
    asset, qty = raw(fees[0].get("asset")), raw(fees[0].get("qty"))
    quote, price = market_field(market, "quote"), raw(info.get("last_price"))
    if asset is None or asset == quote or qty is None or price is None:
        return {}
    try:
        value = Decimal(qty) * Decimal(price)
    except ArithmeticError:
        return {}
    return fee(float(value), quote)


def ws_balance(
    balance: Mapping[str, Any],
    code: CurrencyCode,
    rest: Mapping[str, CurrencyBalance],
    markets: Mapping[str, Any],
) -> WsBalance:
    info = balance.get("info")
    data = info.get("data") if isinstance(info, dict) else None
    if not isinstance(data, list):
        raise ContractError("kraken balances message without a data list")
    rows: dict[str, CurrencyBalance] = {}
    for item in data:
        if not isinstance(item, dict):
            raise ContractError("kraken balances row is not an object")
        currency = code(required_text(item, "asset"))
        total = number(item, "balance")
        known = rest.get(currency)
        if known is not None and total is not None and known.total == total:
            rows[currency] = CurrencyBalance(total=total, free=known.free, used=known.used)
        else:
            rows[currency] = CurrencyBalance(total=total)
    return rows, False


def ledger_fixes(
    row: Mapping[str, Any], info: Mapping[str, Any], markets: Mapping[str, Any]
) -> dict[str, Any]:
    kind = str(info.get("type") or "")
    if kind == _TRADE:
        raise NotALedgerEntry("kraken trade row is a fill's cash flow")
    amount = number(dict(info), "amount", signed=True)
    changes: dict[str, Any] = {
        "signedAmount": amount,
        "reason": generic.reason_of(kind, amount, _LEDGER_REASONS),
        "rawType": kind or None,
    }
    if "ledger_id" in info:  # a row of the WS balances channel, which ccxt does not parse
        changes.update(
            id=raw(info.get("ledger_id")),
            currency=raw(row.get("currency")),
            after=info.get("balance"),
            fee={"cost": info.get("fee"), "currency": row.get("currency")},
            timestamp=row.get("timestamp"),
        )
    return changes


def ws_ledger(message: Mapping[str, Any], code: CurrencyCode) -> list[dict[str, Any]]:
    """The rows with a ``ledger_id`` of a ``balances`` update (ccxt keeps only their totals),
    but for its ``trade`` rows: ``ledger_fixes`` drops those (a fill's cash flow, published as the
    fill), and every fill brings two of them (base and quote). Left in, they were most of what the
    client's ledger buffer held while the collector was behind a burst, each keeping its decoded
    row (issue 18)."""
    data = message.get("data")
    if message.get("channel") != "balances" or message.get("type") != "update" or not isinstance(data, list):
        return []
    rows = []
    for item in data:
        if not isinstance(item, dict) or raw(item.get("ledger_id")) is None or _is_trade(item):
            continue
        asset = raw(item.get("asset"))
        rows.append({"info": item, "currency": code(asset) if asset else None, "timestamp": _iso_ms(item)})
    return rows


def _is_trade(item: Mapping[str, Any]) -> bool:
    return str(item.get("type") or "") == _TRADE


def _iso_ms(item: Mapping[str, Any]) -> int | None:
    stamp = raw(item.get("timestamp"))
    if stamp is None:
        return None
    try:
        return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


# One wallet, whose REST balance ccxt reads with our meaning.
rest_balance = generic.rest_balance
wallet_of = generic.wallet_of
