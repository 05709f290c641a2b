"""Bybit v5 payloads in the venue's real shapes (written here, not recorded) through real ccxt and
the normalisers: every published field has the meaning docs/fields.md gives it."""

from __future__ import annotations

from typing import Any

import pytest
from venue_shapes import Venue, venue

from fullon_account_service.contract import ExecKind, OrderStatus, Source


@pytest.fixture
async def bybit() -> Any:
    async with venue("bybit") as v:
        yield v


def _execution(**kw: Any) -> dict[str, Any]:
    """A linear execution as /v5/execution/list lists it: ``feeCurrency`` is "" and no ``feeCoin``."""
    row = {
        "symbol": "BTCUSDT",
        "orderId": "5d9f1b3a-0001",
        "orderLinkId": "",
        "side": "Sell",
        "orderPrice": "57012.3",
        "orderQty": "0.020",
        "leavesQty": "0",
        "createType": "CreateByUser",
        "orderType": "Market",
        "stopOrderType": "",
        "execFee": "0.6271353",
        "execId": "a1f0c7e2-7d3b-5e55-9c1d-000000000001",
        "execPrice": "57012.3",
        "execQty": "0.020",
        "execType": "Trade",
        "execValue": "1140.246",
        "execTime": "1733800000123",
        "feeCurrency": "",
        "isMaker": False,
        "feeRate": "0.00055",
        "tradeIv": "",
        "markIv": "",
        "markPrice": "57010.1",
        "indexPrice": "",
        "underlyingPrice": "",
        "blockTradeId": "",
        "closedSize": "0.020",
        "seq": 9123456,
    }
    row.update(kw)
    return row


def _ws(row: dict[str, Any], category: str = "linear") -> dict[str, Any]:
    """The same execution as the private ``execution`` topic pushes it (``category``, no ``createType``)."""
    pushed = {k: v for k, v in row.items() if k != "createType"}
    return {**pushed, "category": category, "isLeverage": ""}


async def test_linear_fill_fee_is_in_the_settle_coin_on_rest_and_ws(bybit: Venue) -> None:
    ex = bybit.exchange
    rest = bybit.fill(ex.parse_trade(_execution()), Source.REST)
    ws = bybit.fill(ex.parse_trade(_ws(_execution())), Source.WS)
    assert rest.fee == ws.fee == pytest.approx(0.6271353)
    assert rest.fee_currency == ws.fee_currency == "USDT"  # feeCurrency "" -> settle coin, the venue's rule
    assert rest.exec_kind is None
    assert bybit.fill_event_id(ex.parse_trade(_execution()), Source.REST) == bybit.fill_event_id(
        ex.parse_trade(_ws(_execution())), Source.WS
    )


async def test_spot_fee_currency_is_the_venues_not_ccxts_guess(bybit: Venue) -> None:
    """A spot buy whose fee the venue took in USDT: ccxt guesses the base coin for every buy."""
    row = _execution(
        symbol="BTCUSDT",
        side="Buy",
        execQty="0.010",
        execValue="570.123",
        execFee="0.570123",
        feeRate="0.001",
        feeCurrency="USDT",
    )
    del row["createType"]
    parsed = bybit.exchange.parse_trade(_ws(row, "spot"))
    assert parsed["fee"]["currency"] == "BTC"  # ccxt's guess
    fill = bybit.fill(parsed, Source.WS)
    assert fill.symbol == "BTC/USDT"
    assert (fill.fee, fill.fee_currency) == (pytest.approx(0.570123), "USDT")


@pytest.mark.parametrize(
    ("exec_type", "kind"),
    [("AdlTrade", ExecKind.ADL), ("BustTrade", ExecKind.BUST), ("Settle", ExecKind.SETTLEMENT)],
)
async def test_venue_initiated_executions_are_marked(bybit: Venue, exec_type: str, kind: ExecKind) -> None:
    fill = bybit.fill(bybit.exchange.parse_trade(_execution(execType=exec_type)), Source.REST)
    assert fill.exec_kind is kind


async def test_funding_executions_never_become_fills(bybit: Venue) -> None:
    funding = _execution(
        execType="Funding",
        orderId="",
        orderType="UNKNOWN",
        execPrice="57000",
        execFee="0.0627",
        closedSize="",
    )
    batch = bybit.normaliser.trades([bybit.exchange.parse_trade(funding)], Source.REST)
    assert batch.envelopes == [] and batch.dead == []


def _order(**kw: Any) -> dict[str, Any]:
    row = {
        "orderId": "1f0c2b7d-0002",
        "orderLinkId": "",
        "blockTradeId": "",
        "symbol": "BTCUSDT",
        "price": "123615.9",
        "qty": "0.010",
        "side": "Buy",
        "isLeverage": "",
        "positionIdx": 0,
        "orderStatus": "Filled",
        "cancelType": "UNKNOWN",
        "rejectReason": "EC_NoError",
        "avgPrice": "123498",
        "leavesQty": "0",
        "leavesValue": "0",
        "cumExecQty": "0.010",
        "cumExecValue": "1234.98",
        "cumExecFee": "0.679239",
        "cumFeeDetail": {"USDT": "0.679239"},
        "timeInForce": "IOC",
        "orderType": "Market",
        "stopOrderType": "",
        "orderIv": "",
        "triggerPrice": "0",
        "takeProfit": "0",
        "stopLoss": "0",
        "tpTriggerBy": "",
        "slTriggerBy": "",
        "triggerDirection": 0,
        "triggerBy": "",
        "lastPriceOnCreated": "",
        "reduceOnly": False,
        "closeOnTrigger": False,
        "smpType": "None",
        "smpGroup": 0,
        "smpOrderId": "",
        "tpslMode": "",
        "tpLimitPrice": "",
        "slLimitPrice": "",
        "placeType": "",
        "createdTime": "1733800000000",
        "updatedTime": "1733800000050",
    }
    row.update(kw)
    return row


async def test_market_order_price_is_unknown_and_protection_kept(bybit: Venue) -> None:
    parsed = bybit.exchange.parse_order(_order())
    assert parsed["price"] == pytest.approx(123615.9)  # ccxt: the protection limit as the price
    order = bybit.order(parsed)
    assert order.order_type == "market"
    assert order.price is None
    assert order.protection_price == pytest.approx(123615.9)
    assert order.average == pytest.approx(123498)
    assert (order.fee, order.fee_currency) == (pytest.approx(0.679239), "USDT")
    assert order.client_order_id is None


async def test_spot_order_without_fee_detail_takes_cum_exec_fee(bybit: Venue) -> None:
    row = _order(
        symbol="ETHUSDT",
        price="0",
        side="Sell",
        qty="0.50",
        avgPrice="3001.5",
        cumExecQty="0.50",
        cumExecValue="1500.75",
        cumExecFee="1.50075",
        isLeverage="0",
        marketUnit="baseCoin",
    )
    del row["cumFeeDetail"], row["tpslMode"]
    parsed = bybit.exchange.parse_order(row)
    assert parsed["fee"] is None  # ccxt reads cumFeeDetail only
    order = bybit.order(parsed)
    assert order.symbol == "ETH/USDT"
    assert (order.fee, order.fee_currency) == (pytest.approx(1.50075), "USDT")  # a sell pays in quote


async def test_conditional_order_keeps_type_and_trigger(bybit: Venue) -> None:
    row = _order(
        orderStatus="Untriggered",
        price="0",
        avgPrice="0",
        cumExecQty="0",
        cumExecValue="0",
        cumExecFee="0",
        cumFeeDetail={},
        leavesQty="0.010",
        stopOrderType="StopLoss",
        triggerPrice="58750.5",
        triggerDirection=2,
        triggerBy="LastPrice",
        side="Sell",
    )
    order = bybit.order(bybit.exchange.parse_order(row))
    assert order.status is OrderStatus.OPEN
    assert (order.order_type, order.trigger_price, order.price) == ("stop", pytest.approx(58750.5), None)
    limit = bybit.order(bybit.exchange.parse_order({**row, "orderType": "Limit", "price": "58700"}))
    assert (limit.order_type, limit.price) == ("stop_limit", pytest.approx(58700))


async def test_empty_liquidation_price_is_unknown_and_leverage_reaches_fills(bybit: Venue) -> None:
    position = {
        "positionIdx": 0,
        "riskId": 1,
        "symbol": "BTCUSDT",
        "side": "Buy",
        "size": "0.020",
        "avgPrice": "57000",
        "positionValue": "1140",
        "tradeMode": 0,
        "leverage": "5",
        "markPrice": "57010.1",
        "liqPrice": "",
        "bustPrice": "",
        "positionIM": "228",
        "positionMM": "5.7",
        "unrealisedPnl": "0.202",
        "curRealisedPnl": "0",
        "cumRealisedPnl": "0",
        "createdTime": "1733790000000",
        "updatedTime": "1733790000000",
        "tpslMode": "Full",
        "positionStatus": "Normal",
    }
    parsed = bybit.exchange.parse_position(position)
    batch = bybit.normaliser.positions([parsed], Source.REST, complete=True)
    (pos,) = batch.envelopes[0].payload.positions  # type: ignore[union-attr]
    assert pos.liquidation_price is None and pos.leverage == 5
    fill = bybit.fill(bybit.exchange.parse_trade(_execution()), Source.REST)
    assert fill.leverage == 5  # no execution row carries leverage: the position's is stamped


async def test_simulated_funding_and_adl_over_rest_with_every_exec_type(bybit: Venue) -> None:
    """Real ccxt against the simulator: a funding payment and an ADL close on one position."""
    sim, account = bybit.sim, bybit.sim.world.accounts[0]
    order = sim.ledger.place_order(account, "ETH/USDT:USDT", "buy", "market", 0.5, leverage=4.0)
    sim.ledger.fill(account, order, 0.5, 3000.0, taker=True)
    funding = sim.ledger.funding(account, "ETH/USDT:USDT", 0.0001)
    assert funding is not None
    adl = sim.ledger.liquidate(account, "ETH/USDT:USDT", "adl", 3010.0)
    params = {"type": "swap", "subType": "linear", "execType": ""}
    rows = await bybit.exchange.fetch_my_trades(None, None, None, params)
    assert {r["id"] for r in rows} == {funding.entry_id, adl.trade_id, account.fills[0].trade_id}
    plain = await bybit.exchange.fetch_my_trades(None, None, None, {"type": "swap", "subType": "linear"})
    assert {r["id"] for r in plain} == {account.fills[0].trade_id}  # ccxt's execType=Trade
    batch = bybit.normaliser.trades(rows, Source.REST)
    assert not batch.dead
    fills = {e.payload.ex_trade_id: e.payload for e in batch.envelopes}  # type: ignore[union-attr]
    assert set(fills) == {adl.trade_id, account.fills[0].trade_id}  # funding is not a fill
    assert fills[adl.trade_id].exec_kind is ExecKind.ADL  # type: ignore[union-attr]
    assert fills[adl.trade_id].fee_currency == "USDT"  # type: ignore[union-attr]
