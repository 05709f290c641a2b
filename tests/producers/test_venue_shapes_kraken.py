"""Kraken REST and WebSocket v2 payloads in the venue's real shapes (written here) through real
ccxt and the normalisers."""

from __future__ import annotations

from typing import Any

import pytest
from venue_shapes import Venue, venue

from fullon_account_service.contract import Source
from fullon_account_service.simulator.model import Market, SimFill, SimOrder
from fullon_account_service.simulator.venues.kraken import render


@pytest.fixture
async def kraken() -> Any:
    async with venue("kraken") as v:
        yield v


def _rest_order(ordertype: str, trigger: str, limit: str = "0", **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": "OQCLML-BW3P3-BUCMWZ",
        "refid": None,
        "userref": 0,
        "status": "open",
        "opentm": 1733800000.1234,
        "starttm": 0,
        "expiretm": 0,
        "descr": {
            "pair": "XBTUSD",
            "type": "sell",
            "ordertype": ordertype,
            "price": trigger,
            "price2": limit,
            "leverage": "none",
            "order": f"sell 0.25000000 XBTUSD @ {ordertype} {trigger}",
            "close": "",
        },
        "vol": "0.25000000",
        "vol_exec": "0.00000000",
        "cost": "0.00000",
        "fee": "0.00000",
        "price": "0.00000",
        "stopprice": "0.00000",
        "limitprice": "0.00000",
        "trigger": "last",
        "misc": "",
        "oflags": "fciq",
    }
    row.update(kw)
    return row


async def test_userref_zero_is_no_client_id(kraken: Venue) -> None:
    parsed = kraken.exchange.parse_order(_rest_order("limit", "61000.0"))
    assert parsed["clientOrderId"] == "0"  # ccxt's reading
    assert kraken.order(parsed).client_order_id is None


@pytest.mark.parametrize(
    ("ordertype", "price", "price2", "extra", "want"),
    [
        ("stop-loss", "58000.0", "0", {}, ("stop", 58000.0, None)),
        ("take-profit", "64000.0", "0", {}, ("take_profit", 64000.0, None)),
        ("stop-loss-limit", "58000.0", "57900.0", {}, ("stop_limit", 58000.0, 57900.0)),
        ("take-profit-limit", "64000.0", "63900.0", {}, ("take_profit_limit", 64000.0, 63900.0)),
        ("trailing-stop", "+500.0", "0", {"stopprice": "59500.0"}, ("trailing_stop", 59500.0, None)),
    ],
)
async def test_trigger_orders_keep_type_trigger_and_limit(
    kraken: Venue, ordertype: str, price: str, price2: str, extra: dict[str, Any], want: tuple[Any, ...]
) -> None:
    order = kraken.order(kraken.exchange.parse_order(_rest_order(ordertype, price, price2, **extra)))
    assert (order.order_type, order.trigger_price, order.price) == want


async def test_closed_order_with_trades_list(kraken: Venue) -> None:
    row = _rest_order(
        "market",
        "0",
        status="closed",
        closetm=1733800001.5,
        vol_exec="0.25000000",
        cost="15250.00000",
        fee="39.65000",
        price="61000.0",
        trades=["TZX2WP-XSEOP-FP7WYR", "TJUW2K-FLX2N-AR2FLU"],
        cl_ord_id="6b2d4c1e-8f0a-4b7c-9d3e-2a1f0e9c8b7a",
    )
    order = kraken.order(kraken.exchange.parse_order(row))
    assert order.status.value == "closed" and order.filled == pytest.approx(0.25)
    assert order.client_order_id == "6b2d4c1e-8f0a-4b7c-9d3e-2a1f0e9c8b7a"
    assert (order.fee, order.fee_currency) == (pytest.approx(39.65), "USD")
    assert order.price is None and order.average == pytest.approx(61000.0)
    assert order.protection_price is None, "ccxt's price of a market order is its average, no protection"


def _ws_order(**kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "order_id": "OQCLML-BW3P3-BUCMWZ",
        "symbol": "BTC/USD",
        "order_qty": 0.25,
        "cum_qty": 0.0,
        "cum_cost": 0.0,
        "time_in_force": "GTC",
        "exec_type": "new",
        "side": "sell",
        "order_type": "stop-loss-limit",
        "order_userref": 0,
        "limit_price_type": "static",
        "limit_price": 57900.0,
        "triggers": {
            "reference": "last",
            "price": 58000.0,
            "price_type": "static",
            "actual_price": 58000.0,
            "status": "untriggered",
        },
        "order_status": "new",
        "fee_usd_equiv": 0.0,
        "fee_ccy_pref": "fees_in_quote",
        "timestamp": "2024-12-10T03:06:40.123456Z",
    }
    row.update(kw)
    return row


async def test_ws_order_reads_cl_ord_id_and_trigger(kraken: Venue) -> None:
    parsed = kraken.exchange.parse_ws_order(_ws_order(cl_ord_id="my-id-1"))
    assert parsed["clientOrderId"] == "0"  # ccxt reads order_userref only
    order = kraken.order(parsed, Source.WS)
    assert order.client_order_id == "my-id-1"
    assert (order.order_type, order.trigger_price, order.price) == ("stop_limit", 58000.0, 57900.0)
    assert order.fee is None  # fee_usd_equiv is a valuation, not the fee charged


async def test_closed_market_order_has_no_price_on_the_stream_either(kraken: Venue) -> None:
    row = _ws_order(
        order_type="market",
        order_status="filled",
        exec_type="filled",
        cum_qty=0.25,
        cum_cost=15250.0,
        avg_price=61000.0,
        time_in_force="IOC",
    )
    for key in ("limit_price", "limit_price_type", "triggers"):
        del row[key]
    order = kraken.order(kraken.exchange.parse_ws_order(row), Source.WS)
    assert (order.order_type, order.price, order.protection_price) == ("market", None, None)
    assert order.average == pytest.approx(61000.0)


def _ws_trade(fee_asset: str, fee_qty: float) -> dict[str, Any]:
    return {
        "order_id": "OQCLML-BW3P3-BUCMWZ",
        "exec_id": "TZX2WP-XSEOP-FP7WYR",
        "exec_type": "trade",
        "trade_id": 40274859,
        "symbol": "BTC/USD",
        "side": "buy",
        "last_qty": 0.25,
        "last_price": 61000.1,
        "liquidity_ind": "t",
        "cost": 15250.025,
        "order_status": "filled",
        "order_type": "limit",
        "order_userref": 0,
        "fee_usd_equiv": 39.65,
        "fees": [{"asset": fee_asset, "qty": fee_qty}],
        "timestamp": "2024-12-10T03:06:41.500000Z",
    }


def _rest_trade(fee: str) -> dict[str, Any]:
    return {
        "id": "TZX2WP-XSEOP-FP7WYR",
        "ordertxid": "OQCLML-BW3P3-BUCMWZ",
        "postxid": "TKH2SE-M7IF5-CFI7LT",
        "pair": "XXBTZUSD",
        "time": 1733800001.5,
        "type": "buy",
        "ordertype": "limit",
        "price": "61000.1",
        "cost": "15250.025",
        "fee": fee,
        "vol": "0.25000000",
        "margin": "0.00000",
        "leverage": "0",
        "misc": "",
        "trade_id": 40274859,
        "maker": False,
    }


async def test_fill_seen_on_ws_and_rest_publishes_one_fee(kraken: Venue) -> None:
    """Charged in base (fcib): WS names the asset, TradesHistory its quote value."""
    ex = kraken.exchange
    ws = kraken.fill(ex.parse_ws_trade(_ws_trade("BTC", 0.00065)), Source.WS)
    rest = kraken.fill(ex.parse_trade(_rest_trade("39.650065")), Source.REST)
    assert (ws.fee, ws.fee_currency) == (rest.fee, rest.fee_currency) == (pytest.approx(39.650065), "USD")
    assert ws.fee == rest.fee
    quote_fee = kraken.fill(ex.parse_ws_trade(_ws_trade("USD", 39.65)), Source.WS)
    assert (quote_fee.fee, quote_fee.fee_currency) == (39.65, "USD")


def test_simulator_numbers_have_fixed_decimals_without_float_noise() -> None:
    """Two clean fills whose float sums are noisy (0.1 + 0.2, x * price): Kraken's text is not."""
    market = Market("BTC/USD", "BTC", "USD", "spot", "XXBTZUSD", 60_000.0, 0.1, 1e-8)
    price = 60_000.3
    fills = [
        SimFill(
            f"T{i}", "O1", "BTC/USD", "buy", price, amount, amount * price, amount * 0.0026, "BTC", True, i
        )
        for i, amount in enumerate((0.1, 0.2))
    ]
    assert fills[0].amount + fills[1].amount == 0.30000000000000004
    order = SimOrder(
        "O1", "BTC/USD", "buy", "limit", 0.3, 1, 2, price=price, status="closed", fee_currency="BTC"
    )
    row = render.trade_row(fills[0], market, "limit")
    assert (row["vol"], row["cost"], row["price"]) == ("0.10000000", "6000.0300", "60000.3")
    assert row["fee"] == "15.600078"  # 0.00026 BTC at 60000.3, in USD
    closed = render.order_row(order, market, fills)
    assert closed["vol_exec"] == "0.30000000" and closed["cost"] == "18000.0900"
    assert closed["fee"] == "0.0007800000"
    assert closed["userref"] == 0 and closed["trades"] == ["T0", "T1"]
