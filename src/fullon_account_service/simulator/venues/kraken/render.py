"""Model objects -> Kraken's JSON rows (REST strings, WebSocket v2 numbers). Pure functions.

Numbers on REST are decimal strings with fixed decimals like Kraken's (``"0.50000000"``), never
float noise (``"0.27501579000000004"``): order and trade amounts are computed in decimals from the
fills' clean inputs (tick-rounded prices, lot-rounded sizes, fees the ledger rounded as Kraken
charges them). Balances keep the shortest exact text of the ledger's float. WebSocket v2 sends
plain JSON numbers. Orders without a client id carry ``userref`` / ``order_userref`` 0, closed
orders list their ``trades``, trigger orders carry ``descr.price`` (trigger), ``price2``,
``stopprice``, ``limitprice`` and ``trigger`` (REST) or ``triggers`` (WS v2).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

from fullon_account_service.simulator.model import Market, SimBalance, SimFill, SimLedgerEntry, SimOrder
from fullon_account_service.simulator.venues.kraken.markets import altname, asset, decimals_of

ExecType = Literal["pending_new", "new", "filled", "canceled"]

_REST_STATUS = {"open": "open", "closed": "closed", "canceled": "canceled", "rejected": "canceled"}
_WS_STATUS = {"closed": "filled", "canceled": "canceled", "rejected": "canceled"}
_REASON = {"canceled": "User requested", "rejected": "Insufficient funds"}


def num(value: float, min_decimals: int = 0) -> str:
    """Fixed-point text of ``value`` (no exponent), padded to ``min_decimals``, exact on read-back."""
    text = format(Decimal(repr(float(value))), "f")
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0").ljust(min_decimals, "0")
    return f"{whole}.{frac}" if frac else whole


def exact(value: float) -> Decimal:
    """The decimal a clean float stands for (``0.1`` -> ``Decimal("0.1")``)."""
    return Decimal(repr(float(value)))


def fixed(value: Decimal, min_decimals: int = 0) -> str:
    """Fixed-point text of an exact decimal, padded to ``min_decimals``."""
    whole, _, frac = format(value, "f").partition(".")
    frac = frac.rstrip("0").ljust(min_decimals, "0")
    return f"{whole}.{frac}" if frac else whole


def quantized(value: Decimal, decimals: int) -> str:
    return format(value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN), "f")


_KRAKEN_TYPES = {"stop": "stop-loss", "take_profit": "take-profit", "trailing_stop": "trailing-stop"}
_TEXT_TYPES = {"stop": "stop loss", "take_profit": "take profit", "trailing_stop": "trailing stop"}


def kraken_type(order: SimOrder) -> str:
    """``limit``/``market``, or Kraken's trigger type (``stop-loss-limit``, ``take-profit``...)."""
    if order.trigger_kind is None:
        return order.order_type
    base = _KRAKEN_TYPES[order.trigger_kind]
    return f"{base}-limit" if order.order_type == "limit" else base


def lots(amount: float, market: Market) -> Decimal:
    """A size as the venue keeps it: whole lots (the ledger's last fill of an order can carry float
    noise from ``amount - filled``)."""
    return Decimal(repr(float(amount))).quantize(Decimal(1).scaleb(-decimals_of(market.lot)))


def fill_fee_in_quote(fill: SimFill, market: Market) -> Decimal:
    """TradesHistory's fee: in quote, a fee charged in base shown as its value at the fill price."""
    fee = exact(fill.fee)
    return fee * exact(fill.price) if fill.fee_currency == market.base else fee


def iso(ms: int) -> str:
    """RFC 3339 with microseconds, as WebSocket v2 stamps events."""
    moment = datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=(ms % 1000) * 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def derived_id(source: str, prefix: str) -> str:
    """A Kraken-shaped id (``TKH2SE-M7IF5-CFI7LT``) derived from another id, stable across runs."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    chars = "".join(alphabet[b % 32] for b in hashlib.sha256(source.encode()).digest()[:16])
    return f"{prefix}{chars[:5]}-{chars[5:10]}-{chars[10:16]}"


def trade_number(trade_id: str) -> int:
    return int.from_bytes(hashlib.sha256(trade_id.encode()).digest()[:4], "big")


def usd_rate(markets: list[Market], code: str) -> float:
    """USD value of one ``code`` from catalog prices (direct pair, or through BTC)."""
    if code == "USD":
        return 1.0
    prices = {(m.base, m.quote): m.price for m in markets}
    if (code, "USD") in prices:
        return prices[(code, "USD")]
    if ("BTC", code) in prices and ("BTC", "USD") in prices:
        return prices[("BTC", "USD")] / prices[("BTC", code)]
    if (code, "BTC") in prices and ("BTC", "USD") in prices:
        return prices[(code, "BTC")] * prices[("BTC", "USD")]
    return 0.0


# -- REST -----------------------------------------------------------------------------------------
def balance_ex(balances: dict[str, SimBalance]) -> dict[str, Any]:
    """``BalanceEx``: ``balance`` is the total, ``hold_trade`` what open orders lock."""
    result: dict[str, Any] = {}
    for code, bal in sorted(balances.items()):
        a = asset(code)
        result[a.asset_id] = {"balance": num(bal.total, a.decimals), "hold_trade": num(bal.used, a.decimals)}
    return result


def balance(balances: dict[str, SimBalance]) -> dict[str, str]:
    return {asset(c).asset_id: num(b.total, asset(c).decimals) for c, b in sorted(balances.items())}


def _oflags(order: SimOrder, market: Market) -> str:
    return "fcib" if order.fee_currency == market.base else "fciq"


def _trailing_offset(order: SimOrder, market: Market) -> str:
    return f"+{fixed(abs(exact(order.trigger_price or 0.0) - exact(market.price)), decimals_of(market.tick))}"


def _description(order: SimOrder, market: Market, vol: str) -> dict[str, Any]:
    pair_dec = decimals_of(market.tick)
    pair = altname(market)
    price = fixed(exact(order.price), pair_dec) if order.price is not None else "0"
    if order.trigger_kind is None:
        text = f"{order.side} {vol} {pair} @ limit {price}" if order.price is not None else ""
        return {"price": price, "price2": "0", "order": text or f"{order.side} {vol} {pair} @ market"}
    if order.trigger_kind == "trailing_stop":
        trigger = _trailing_offset(order, market)
    else:
        trigger = fixed(exact(order.trigger_price or 0.0), pair_dec)
    text = f"{order.side} {vol} {pair} @ {_TEXT_TYPES[order.trigger_kind]} {trigger}"
    if order.price is not None:
        text += f" -> limit {price}"
    return {"price": trigger, "price2": price if order.price is not None else "0", "order": text}


def order_row(order: SimOrder, market: Market, fills: Sequence[SimFill] = ()) -> dict[str, Any]:
    """One entry of ``OpenOrders.open`` / ``ClosedOrders.closed`` (the key is the order id).

    ``fills`` are the order's fills: amounts, cost and fee are their exact decimal sums."""
    pair_dec, lot_dec = decimals_of(market.tick), decimals_of(market.lot)
    quote_dec = asset(market.quote).decimals
    fee_dec = asset(market.base).decimals if order.fee_currency == market.base else quote_dec
    vol = quantized(exact(order.amount), lot_dec)
    filled = sum((lots(f.amount, market) for f in fills), Decimal(0))
    cost = sum((lots(f.amount, market) * exact(f.price) for f in fills), Decimal(0))
    fee = sum((exact(f.fee) for f in fills), Decimal(0))
    average = quantized(cost / filled, pair_dec) if filled else fixed(Decimal(0), pair_dec)
    descr = _description(order, market, vol)
    triggered_limit = order.trigger_kind is not None and order.triggered and order.price is not None
    row: dict[str, Any] = {
        "refid": None,
        "userref": 0,
        "status": _REST_STATUS[order.status],
        "opentm": order.created_ms / 1000,
        "starttm": 0,
        "expiretm": 0,
        "descr": {
            "pair": altname(market),
            "type": order.side,
            "ordertype": kraken_type(order),
            "price": descr["price"],
            "price2": descr["price2"],
            "leverage": "none",
            "order": descr["order"],
            "close": "",
        },
        "vol": vol,
        "vol_exec": quantized(filled, lot_dec),
        "cost": fixed(cost, quote_dec),
        "fee": fixed(fee, fee_dec),
        "price": average,
        "stopprice": fixed(exact(order.trigger_price or 0.0) if order.triggered else Decimal(0), pair_dec),
        "limitprice": fixed(exact(order.price or 0.0) if triggered_limit else Decimal(0), pair_dec),
        "misc": "",
        "oflags": _oflags(order, market),
    }
    if order.trigger_kind is not None:
        row["trigger"] = "last"
    if order.client_order_id is not None:
        row["cl_ord_id"] = order.client_order_id
    if order.status != "open":
        row["closetm"] = order.updated_ms / 1000
        row["reason"] = _REASON.get(order.status)
        if fills:
            row["trades"] = [f.trade_id for f in fills]
    return row


def trade_row(fill: SimFill, market: Market, order_type: str) -> dict[str, Any]:
    """One entry of ``TradesHistory.trades``. The fee is in the quote currency, as Kraken reports
    it there; a fee charged in base shows as its quote value at the fill price."""
    quote_dec = asset(market.quote).decimals
    return {
        "ordertxid": fill.order_id,
        "postxid": derived_id(fill.trade_id, "T"),
        "pair": market.venue_id,
        "time": fill.ts_ms / 1000,
        "type": fill.side,
        "ordertype": order_type,
        "price": fixed(exact(fill.price), decimals_of(market.tick)),
        "cost": fixed(lots(fill.amount, market) * exact(fill.price), quote_dec),
        "fee": fixed(fill_fee_in_quote(fill, market), quote_dec),
        "vol": quantized(lots(fill.amount, market), decimals_of(market.lot)),
        "margin": num(0.0, quote_dec),
        "leverage": "0",
        "misc": "",
        "trade_id": trade_number(fill.trade_id),
        "maker": not fill.taker,
    }


_SUBTYPES = {"transfer_in": "spotfromfutures", "transfer_out": "spottofutures"}


def ledger_ref(entry: SimLedgerEntry) -> str:
    """The entry's ``refid``: the funding transaction behind it, named after the entry."""
    return derived_id(entry.entry_id, "F")


def ledger_row(entry: SimLedgerEntry) -> dict[str, Any]:
    """A ``Ledgers`` row: ``amount`` signed and without ``fee``; ``balance`` after both."""
    a = asset(entry.currency)
    return {
        "aclass": "currency",
        "amount": num(entry.amount, a.decimals),
        "asset": a.asset_id,
        "balance": num(entry.balance_after, a.decimals),
        "fee": num(entry.fee, a.decimals),
        "refid": ledger_ref(entry),
        "time": entry.ts_ms / 1000,
        "type": entry.raw_type,
        "subtype": _SUBTYPES.get(entry.reason, ""),
    }


_METHODS = {"BTC": "Bitcoin", "ETH": "Ether", "USD": "Bank Frick (SWIFT)", "EUR": "SEPA"}


def funding_status_row(entry: SimLedgerEntry) -> dict[str, Any]:
    """A ``DepositStatus`` / ``WithdrawStatus`` row: ``refid`` is the ledger row's ``refid``;
    ``amount`` unsigned, ``fee`` on top, ``time`` in whole seconds, as Kraken lists them."""
    a = asset(entry.currency)
    digest = hashlib.sha256(entry.entry_id.encode()).hexdigest()
    return {
        "method": _METHODS.get(entry.currency, entry.currency),
        "aclass": "currency",
        "asset": a.asset_id,
        "refid": ledger_ref(entry),
        "txid": "0x" + digest,
        "info": "0x" + digest[:40],
        "amount": num(abs(entry.amount), a.decimals),
        "fee": num(entry.fee, a.decimals),
        "time": entry.ts_ms // 1000,
        "status": "Success",
    }


# -- WebSocket v2 ---------------------------------------------------------------------------------
def ws_balance_snapshot_row(code: str, bal: SimBalance) -> dict[str, Any]:
    return {
        "asset": code,
        "asset_class": "currency",
        "balance": bal.total,
        "wallets": [{"type": "spot", "id": "main", "balance": bal.total}],
    }


def ws_balance_update_row(
    code: str, total: float, amount: float, kind: str, ref_id: str, ts_ms: int
) -> dict[str, Any]:
    """A ledger entry on the ``balances`` channel: ``balance`` is the new total after ``amount``."""
    return {
        "asset": code,
        "asset_class": "currency",
        "amount": amount,
        "balance": total,
        "fee": 0.0,
        "ledger_id": derived_id(f"{ref_id}|{code}", "L"),
        "ref_id": ref_id,
        "timestamp": iso(ts_ms),
        "type": kind,
        "subtype": "",
        "category": kind,
        "wallet_type": "spot",
        "wallet_id": "main",
    }


def ws_ledger_row(entry: SimLedgerEntry) -> dict[str, Any]:
    """A ledger entry that is not a trade on the ``balances`` channel, with the ``Ledgers`` row's id."""
    row = ws_balance_update_row(
        entry.currency, entry.balance_after, entry.amount, entry.raw_type, ledger_ref(entry), entry.ts_ms
    )
    subtype = _SUBTYPES.get(entry.reason, "")
    return {**row, "ledger_id": entry.entry_id, "fee": entry.fee, "subtype": subtype}


def ws_order_status(order: SimOrder) -> str:
    if order.status == "open":
        return "partially_filled" if order.filled > 0 else "new"
    return _WS_STATUS[order.status]


def ws_order_row(order: SimOrder, exec_type: str, fee_usd: float, ts_ms: int) -> dict[str, Any]:
    """An order event on the ``executions`` channel (never ``exec_type: trade``: ccxt would route
    it to my-trades)."""
    base = order.symbol.split("/")[0]
    row: dict[str, Any] = {
        "order_id": order.order_id,
        "symbol": order.symbol,
        "order_qty": order.amount,
        "cum_qty": order.filled,
        "cum_cost": order.cost,
        "time_in_force": "GTC" if order.order_type == "limit" else "IOC",
        "exec_type": exec_type,
        "side": order.side,
        "order_type": kraken_type(order),
        "order_status": "pending_new" if exec_type == "pending_new" else ws_order_status(order),
        "order_userref": 0,
        "fee_usd_equiv": fee_usd,
        "fee_ccy_pref": "fees_in_base" if order.fee_currency == base else "fees_in_quote",
        "timestamp": iso(ts_ms),
    }
    if order.trigger_kind is not None:
        row["triggers"] = {
            "reference": "last",
            "price": order.trigger_price,
            "price_type": "static",
            "actual_price": order.trigger_price,
            "status": "triggered" if order.triggered else "untriggered",
        }
    if order.price is not None:
        row["limit_price"] = order.price
        row["limit_price_type"] = "static"
    if order.filled > 0:
        row["avg_price"] = order.average
    if order.client_order_id is not None:
        row["cl_ord_id"] = order.client_order_id
    if order.status in _REASON:
        row["reason"] = _REASON[order.status]
    return row


def ws_trade_row(fill: SimFill, order: SimOrder, fee_usd: float) -> dict[str, Any]:
    """A fill on the ``executions`` channel; carries the order's status after the fill."""
    row: dict[str, Any] = {
        "order_id": fill.order_id,
        "exec_id": fill.trade_id,
        "exec_type": "trade",
        "trade_id": trade_number(fill.trade_id),
        "symbol": fill.symbol,
        "side": fill.side,
        "last_qty": fill.amount,
        "last_price": fill.price,
        "liquidity_ind": "t" if fill.taker else "m",
        "cost": fill.cost,
        "order_status": "filled" if order.status == "closed" else "partially_filled",
        "order_type": kraken_type(order),
        "order_userref": 0,
        "fee_usd_equiv": fee_usd,
        "fees": [{"asset": fill.fee_currency, "qty": fill.fee}],
        "timestamp": iso(fill.ts_ms),
    }
    if order.client_order_id is not None:
        row["cl_ord_id"] = order.client_order_id
    return row
