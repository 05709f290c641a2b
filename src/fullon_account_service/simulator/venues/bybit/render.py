"""Model objects -> Bybit v5 JSON rows, as the venue sends them over REST and the private stream.

Pure functions: they read the world and never change it. Numbers go out as decimal strings like the
venue's (``"0.001"``, never ``"1e-03"``). The fields ccxt reads are the ones that matter; the rest are
there so a row looks like the venue's. Two markers decide how ccxt types a row when it has no market:
order rows of contracts carry ``tpslMode`` (spot rows must not), REST execution rows of contracts
carry ``createType``.
"""

from __future__ import annotations

import zlib
from decimal import Decimal
from typing import Any

from fullon_account_service.simulator.model import (
    FundingTerms,
    Market,
    SimFill,
    SimLedgerEntry,
    SimOrder,
    SimPosition,
)

MAINTENANCE_RATE = 0.005
"""Maintenance margin as a share of position value (Bybit's first risk tier for majors)."""
LIQ_PRICE_MIN_LEVERAGE = 3.0
"""At this leverage or below the venue shows no liquidation price (``""``): the unified account's
collateral covers the position."""


def fmt(value: float) -> str:
    """The shortest decimal that reads back as ``value``, never in exponent form.

    ``repr`` already is that text unless it has an exponent (or is ``inf``/``nan``); only then is
    it rewritten through ``Decimal``, which costs about three times as much."""
    text = repr(float(value))
    if "e" in text or "n" in text:
        text = format(Decimal(text), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def ok_body(result: Any, now_ms: int) -> dict[str, Any]:
    return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": now_ms}


def category(market: Market) -> str:
    return "spot" if market.kind == "spot" else "linear"


def side(value: str) -> str:
    return "Buy" if value == "buy" else "Sell"


_STOP_ORDER_TYPES = {"stop": "StopLoss", "take_profit": "TakeProfit", "trailing_stop": "TrailingStop"}
_EXEC_TYPES = {"adl": "AdlTrade", "bust": "BustTrade", "liquidation": "BustTrade"}
_CREATE_TYPES = {
    "adl": "CreateByAdl_PassThrough",
    "bust": "CreateByTakeOver_PassThrough",
    "liquidation": "CreateByTakeOver_PassThrough",
}
"""The ``createType`` of the venue's own closing orders (v5 enum: a take-over by the liquidation
engine at the bankruptcy price, an auto-deleveraging)."""


def order_status(order: SimOrder, market: Market) -> str:
    if order.resting_untriggered:
        return "Untriggered" if order.status == "open" else "Deactivated"
    if order.status == "open":
        return "PartiallyFilled" if order.filled > 0 else "New"
    if order.status == "closed":
        return "Filled"
    if order.status == "rejected":
        return "Rejected"
    # Only spot orders end as PartiallyFilledCanceled; a contract order keeps "Cancelled".
    return "PartiallyFilledCanceled" if market.kind == "spot" and order.filled > 0 else "Cancelled"


def has_fee_detail(order: SimOrder, market: Market) -> bool:
    """Older spot order rows carry ``cumExecFee`` only, no ``cumFeeDetail`` (about one spot order
    in three here, chosen by its id so every read of the order agrees)."""
    return market.kind != "spot" or zlib.crc32(order.order_id.encode()) % 3 != 0


def order_row(order: SimOrder, market: Market, *, with_category: bool = False) -> dict[str, Any]:
    """A market order's ``price`` is the venue's protection limit, not ``"0"``."""
    spot = market.kind == "spot"
    is_open = order.status == "open"
    average = order.average
    price = order.price if order.price is not None else (order.protection_price or 0.0)
    row: dict[str, Any] = {
        "orderId": order.order_id,
        "orderLinkId": order.client_order_id or "",
        "blockTradeId": "",
        "symbol": market.venue_id,
        "price": fmt(price),
        "qty": fmt(order.amount),
        "side": side(order.side),
        "isLeverage": "0" if spot else "",
        "positionIdx": 0,
        "orderStatus": order_status(order, market),
        "cancelType": "CancelByUser" if order.status == "canceled" else "UNKNOWN",
        "rejectReason": "EC_InsufficientBalance" if order.status == "rejected" else "EC_NoError",
        "avgPrice": fmt(average) if average is not None else ("" if spot else "0"),
        "leavesQty": fmt(order.remaining) if is_open else "0",
        "leavesValue": fmt(order.remaining * price) if is_open else "0",
        "cumExecQty": fmt(order.filled),
        "cumExecValue": fmt(order.cost),
        "cumExecFee": fmt(order.fee),
        "cumFeeDetail": {order.fee_currency: fmt(order.fee)} if order.fee_currency else {},
        "timeInForce": "GTC" if order.order_type == "limit" else "IOC",
        "orderType": "Limit" if order.order_type == "limit" else "Market",
        "stopOrderType": _STOP_ORDER_TYPES.get(order.trigger_kind or "", ""),
        "orderIv": "",
        "triggerPrice": fmt(order.trigger_price or 0.0),
        "takeProfit": "0",
        "stopLoss": "0",
        "tpTriggerBy": "",
        "slTriggerBy": "",
        "triggerDirection": _trigger_direction(order, market),
        "triggerBy": "LastPrice" if order.trigger_kind else "",
        "lastPriceOnCreated": "",
        "reduceOnly": order.reduce_only,
        "closeOnTrigger": False,
        "smpType": "None",
        "smpGroup": 0,
        "smpOrderId": "",
        "tpLimitPrice": "",
        "slLimitPrice": "",
        "placeType": "",
        "createdTime": str(order.created_ms),
        "updatedTime": str(order.updated_ms),
    }
    if spot:
        # Quantities are always in base: say so, or ccxt reads a market buy's qty as quote.
        row["marketUnit"] = "baseCoin" if order.order_type == "market" else ""
        if not has_fee_detail(order, market):
            del row["cumFeeDetail"]
    else:
        row["tpslMode"] = ""
    if with_category:
        row["category"] = category(market)
    return row


def exec_type(fill: SimFill) -> str:
    """``Trade``, or ``AdlTrade`` / ``BustTrade`` for the venue's own closes."""
    return _EXEC_TYPES.get(fill.exec_kind or "", "Trade")


def _trigger_direction(order: SimOrder, market: Market) -> int:
    """1: triggers when the price rises to ``triggerPrice``, 2: when it falls to it."""
    if order.trigger_price is None:
        return 0
    return 1 if order.trigger_price >= market.price else 2


def _fee_rate(fill: SimFill, market: Market) -> str:
    basis = fill.amount if market.kind == "spot" and fill.fee_currency == market.base else fill.cost
    return fmt(fill.fee / basis) if basis else "0"


def execution_row(
    fill: SimFill, market: Market, order: SimOrder | None, *, with_category: bool = False
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "symbol": market.venue_id,
        "orderId": fill.order_id,
        "orderLinkId": (order.client_order_id or "") if order else "",
        "side": side(fill.side),
        "orderPrice": fmt(order.price or order.protection_price or 0.0) if order else "0",
        "orderQty": fmt(order.amount) if order else "0",
        "leavesQty": fmt(order.remaining) if order else "0",
        "orderType": ("Limit" if order.order_type == "limit" else "Market") if order else "UNKNOWN",
        "stopOrderType": "",
        "execFee": fmt(fill.fee),
        "execId": fill.trade_id,
        "execPrice": fmt(fill.price),
        "execQty": fmt(fill.amount),
        "execType": exec_type(fill),
        "execValue": fmt(fill.cost),
        "execTime": str(fill.ts_ms),
        # The venue leaves feeCurrency empty on contracts (the fee is in the settle coin).
        "feeCurrency": fill.fee_currency if market.kind == "spot" else "",
        "isMaker": not fill.taker,
        "feeRate": _fee_rate(fill, market),
        "tradeIv": "",
        "markIv": "",
        "markPrice": fmt(fill.price),
        "indexPrice": "",
        "underlyingPrice": "",
        "blockTradeId": "",
        "closedSize": "",
        "seq": fill.ts_ms,
    }
    if market.kind != "spot":
        row["createType"] = _CREATE_TYPES.get(fill.exec_kind or "", "CreateByUser")
    if with_category:
        row["category"] = category(market)
        row["isLeverage"] = "0" if market.kind == "spot" else ""
    return row


def _terms(entry: SimLedgerEntry) -> FundingTerms:
    if entry.funding is None:
        raise ValueError(f"ledger entry {entry.entry_id} is not a funding payment")
    return entry.funding


def funding_row(entry: SimLedgerEntry, market: Market, *, with_category: bool = False) -> dict[str, Any]:
    """A ``Funding`` execution: no order, ``execFee`` > 0 paid (< 0 received) at ``feeRate``; its
    ``execId`` is the ledger entry's id (the transaction log's ``tradeId``)."""
    funding = _terms(entry)
    value = funding.size * funding.mark_price
    row: dict[str, Any] = {
        "symbol": market.venue_id,
        "orderId": "",
        "orderLinkId": "",
        "side": side(funding.side),
        "orderPrice": "0",
        "orderQty": "0",
        "leavesQty": "0",
        "orderType": "UNKNOWN",
        "stopOrderType": "UNKNOWN",
        "execFee": fmt(-entry.amount),
        "execId": entry.entry_id,
        "execPrice": fmt(funding.mark_price),
        "execQty": fmt(funding.size),
        "execType": "Funding",
        "execValue": fmt(value),
        "execTime": str(entry.ts_ms),
        "feeCurrency": "",
        "isMaker": False,
        "feeRate": fmt(funding.rate),
        "tradeIv": "",
        "markIv": "",
        "markPrice": fmt(funding.mark_price),
        "indexPrice": "",
        "underlyingPrice": "",
        "blockTradeId": "",
        "closedSize": "",
        "seq": entry.ts_ms,
    }
    if with_category:
        row["category"] = "linear"
        row["isLeverage"] = ""
    else:
        row["createType"] = ""
    return row


def position_row(
    market: Market, pos: SimPosition | None, now_ms: int, *, with_category: bool = False
) -> dict[str, Any]:
    """A one-way position row; ``pos=None`` renders the flat row the venue shows after a close."""
    if pos is None or pos.contracts == 0:
        size = entry = mark = value = im = mm = upnl = liq = 0.0
        side, leverage, ts = "", 0.0, now_ms
    else:
        size, entry, mark, leverage = abs(pos.contracts), pos.entry_price, pos.mark_price, pos.leverage
        value, im, upnl, liq = size * entry, pos.margin, pos.unrealized_pnl, pos.liquidation_price
        mm = value * MAINTENANCE_RATE
        side, ts = ("Buy" if pos.contracts > 0 else "Sell"), pos.updated_ms
    row: dict[str, Any] = {
        "positionIdx": 0,
        "riskId": 1,
        "riskLimitValue": "2000000",
        "symbol": market.venue_id,
        "side": side,
        "size": fmt(size),
        "avgPrice": fmt(entry),
        "positionValue": fmt(value),
        "tradeMode": 0,
        "autoAddMargin": 0,
        "positionStatus": "Normal",
        "leverage": fmt(leverage) if leverage else "",
        "markPrice": fmt(mark),
        "liqPrice": fmt(liq) if liq and leverage > LIQ_PRICE_MIN_LEVERAGE else "",
        "bustPrice": "",  # the venue fills it for classic accounts only, never for a unified one
        "positionIM": fmt(im),
        "positionMM": fmt(mm),
        "positionBalance": fmt(im),
        "tpslMode": "Full",
        "takeProfit": "",
        "stopLoss": "",
        "trailingStop": "0",
        "sessionAvgPrice": "",
        "unrealisedPnl": fmt(upnl),
        "curRealisedPnl": "0",
        "cumRealisedPnl": "0",
        "adlRankIndicator": 2 if side else 0,
        "isReduceOnly": False,
        "mmrSysUpdatedTime": "",
        "leverageSysUpdatedTime": "",
        "createdTime": str(ts),
        "updatedTime": str(ts),
        "seq": ts,
    }
    if with_category:
        row["category"] = "linear"
    return row
