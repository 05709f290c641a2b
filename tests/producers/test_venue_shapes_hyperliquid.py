"""Hyperliquid ``/info`` and ``/ws`` payloads in the venue's real shapes (written here) through real
ccxt and the normalisers, and the spot wallet read from the simulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from venue_shapes import Venue, venue

from fullon_account_service.contract import ExecKind, Source, TradeFill
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.normalise import Normaliser
from fullon_account_service.producers.venues import adapter_for
from fullon_account_service.producers.venues.hyperliquid import normalise as hyperliquid_normalise
from fullon_account_service.producers.venues.hyperliquid.reads import hip3_dexes

USER = "0x5e9ee1089755c3435139848e47e6635505d5a13a"
OTHER_USER = "0x1111111111111111111111111111111111111111"


@pytest.fixture
async def hyperliquid() -> Any:
    async with venue("hyperliquid") as v:
        yield v


def _fill(**kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "coin": "ETH",
        "px": "3012.4",
        "sz": "0.5",
        "side": "A",
        "time": 1733800000123,
        "startPosition": "1.2",
        "dir": "Close Long",
        "closedPnl": "6.2",
        "hash": "0x8c1f2e3d4c5b6a7980f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4a3b",
        "oid": 48271123456,
        "crossed": True,
        "fee": "0.678",
        "tid": 918273645501234,
        "feeToken": "USDC",
        "twapId": None,
        "cloid": "0x0000000000000000000000000000abcd",
        "builderFee": "0.1506",
    }
    row.update(kw)
    return row


async def test_fee_is_the_venues_total_inclusive_of_builder_fee(hyperliquid: Venue) -> None:
    ex = hyperliquid.exchange
    parsed = ex.parse_trade(_fill())
    assert float(parsed["fee"]["cost"]) == pytest.approx(0.8286)  # ccxt adds builderFee a second time
    rest = hyperliquid.fill(parsed, Source.REST)
    ws = hyperliquid.fill(ex.parse_ws_trade(_fill()), Source.WS)
    assert rest.fee == ws.fee == pytest.approx(0.678)
    assert rest.fee_currency == ws.fee_currency == "USDC"
    assert rest.exec_kind is None
    assert hyperliquid.fill_event_id(parsed, Source.REST) == hyperliquid.fill_event_id(
        ex.parse_ws_trade(_fill()), Source.WS
    )


async def test_liquidation_fill_is_marked_on_the_liquidated_account_only(hyperliquid: Venue) -> None:
    """Both sides of a liquidation's fill carry ``liquidation`` naming the account liquidated
    (ccxt's ``fetch_my_liquidations`` keeps the rows whose ``liquidatedUser`` is the caller): ours
    is a liquidation, the other side's is a plain fill of its own order."""
    ex = hyperliquid.exchange
    own = Normaliser(
        AccountRef(ex_id=1, uid=1, venue="hyperliquid"), ex.markets, ex.safe_currency_code, address=USER
    )

    def kind(liquidated_user: str, parse: Callable[[dict[str, Any]], dict[str, Any]]) -> ExecKind | None:
        terms = {"liquidatedUser": liquidated_user, "markPx": "2999.1", "method": "market"}
        row = _fill(liquidation=terms, crossed=liquidated_user.lower() == USER)
        del row["builderFee"]
        (envelope,) = own.trades([parse(row)], Source.REST).envelopes
        assert isinstance(envelope.payload, TradeFill)
        return envelope.payload.exec_kind

    assert kind("0x" + USER[2:].upper(), ex.parse_trade) is ExecKind.LIQUIDATION
    assert kind(USER, ex.parse_ws_trade) is ExecKind.LIQUIDATION
    assert kind(OTHER_USER, ex.parse_trade) is None
    assert kind(OTHER_USER, ex.parse_ws_trade) is None
    unknown = hyperliquid.fill(
        ex.parse_trade(_fill(liquidation={"markPx": "2999.1", "method": "backstop"})), Source.REST
    )
    assert unknown.exec_kind is ExecKind.LIQUIDATION  # no account named: the venue closed ours


def _historical(order_type: str, limit_px: str, **kw: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "coin": "BTC",
        "side": "B",
        "limitPx": limit_px,
        "sz": "0.0",
        "oid": 48271123457,
        "timestamp": 1733800000000,
        "origSz": "0.01",
        "cloid": None,
        "triggerCondition": "N/A",
        "isTrigger": False,
        "triggerPx": "0.0",
        "children": [],
        "isPositionTpsl": False,
        "reduceOnly": False,
        "orderType": order_type,
        "tif": "Ioc",
    }
    order.update(kw)
    return {"order": order, "status": "filled", "statusTimestamp": 1733800000050}


async def test_market_order_slippage_price_is_not_its_price(hyperliquid: Venue) -> None:
    order = hyperliquid.order(hyperliquid.exchange.parse_order(_historical("Market", "63000.0")))
    assert (order.order_type, order.price, order.protection_price) == ("market", None, 63000.0)


async def test_order_update_without_type_keeps_the_type_learned_from_rest(hyperliquid: Venue) -> None:
    ex = hyperliquid.exchange
    hyperliquid.order(ex.parse_order(_historical("Market", "63000.0")))
    update = {
        "order": {
            "coin": "BTC",
            "side": "B",
            "limitPx": "63000.0",
            "sz": "0.0",
            "oid": 48271123457,
            "timestamp": 1733800000000,
            "origSz": "0.01",
        },
        "status": "filled",
        "statusTimestamp": 1733800000050,
    }
    parsed = ex.parse_order(update)
    assert parsed["type"] is None  # orderUpdates rows carry no order type
    order = hyperliquid.order(parsed, Source.WS)
    assert (order.order_type, order.price, order.protection_price) == ("market", None, 63000.0)


async def test_trigger_order_keeps_type_and_trigger(hyperliquid: Venue) -> None:
    row = _historical(
        "Stop Limit",
        "58000.0",
        isTrigger=True,
        triggerPx="58100.0",
        triggerCondition="Price below 58100.0",
        tif=None,
        sz="0.01",
    )
    row["status"] = "open"
    order = hyperliquid.order(hyperliquid.exchange.parse_order(row))
    assert (order.order_type, order.trigger_price, order.price) == ("stop_limit", 58100.0, 58000.0)


def _position(leverage: dict[str, Any], liquidation: str | None, margin_used: str) -> dict[str, Any]:
    return {
        "type": "oneWay",
        "position": {
            "coin": "ETH",
            "szi": "-2.0",
            "leverage": leverage,
            "entryPx": "3000.0",
            "positionValue": "6020.0",
            "unrealizedPnl": "-20.0",
            "returnOnEquity": "-0.0333",
            "liquidationPx": liquidation,
            "marginUsed": margin_used,
            "maxLeverage": 50,
            "cumFunding": {"allTime": "0.0", "sinceOpen": "0.0", "sinceChange": "0.0"},
        },
    }


async def test_isolated_and_cross_positions(hyperliquid: Venue) -> None:
    ex = hyperliquid.exchange
    isolated = ex.parse_position(
        _position({"type": "isolated", "value": 10, "rawUsd": "6580.0"}, "3270.5", "580.0")
    )
    cross = ex.parse_position(_position({"type": "cross", "value": 3}, None, "2000.0"))
    batch = hyperliquid.normaliser.positions([isolated], Source.REST, complete=True)
    (iso,) = batch.envelopes[0].payload.positions  # type: ignore[union-attr]
    assert (iso.margin_mode, iso.leverage, iso.margin) == ("isolated", 10, pytest.approx(600.0))
    assert iso.liquidation_price == pytest.approx(3270.5)
    batch = hyperliquid.normaliser.positions([cross], Source.REST, complete=True)
    (crs,) = batch.envelopes[0].payload.positions  # type: ignore[union-attr]
    assert (crs.margin_mode, crs.liquidation_price, crs.margin) == ("cross", None, pytest.approx(2000.0))
    fill = hyperliquid.fill(ex.parse_trade(_fill()), Source.REST)
    assert fill.leverage == 3  # the symbol's latest leverage, stamped on its fills


async def test_spot_wallet_is_collected_and_merged_per_currency(hyperliquid: Venue) -> None:
    """Real ccxt against the simulator: the perp account and the spot wallet, one USDC."""
    ex = hyperliquid.exchange
    assert adapter_for("hyperliquid").reads.balance_params() == [{}, {"type": "spot"}]
    perp = await ex.fetch_balance()
    spot = await ex.fetch_balance({"type": "spot"})
    assert spot["HYPE"]["total"] == pytest.approx(25.0) and spot["USDC"]["total"] == pytest.approx(5000.0)
    assert not hyperliquid.normaliser.rest_balances(perp).envelopes, "held until the spot wallet is read"
    second = hyperliquid.normaliser.rest_balances(spot).envelopes[0].payload
    assert not second.partial  # type: ignore[union-attr]
    usdc = second.balances["USDC"]  # type: ignore[union-attr]
    assert usdc.total == pytest.approx(105_000.0)
    assert second.balances["HYPE"].total == pytest.approx(25.0)  # type: ignore[union-attr]


def test_hip3_dexes_come_from_the_markets() -> None:
    markets = {
        "BTC/USDC:USDC": {"baseName": "BTC"},
        "XYZ-NVDA/USDC:USDC": {"baseName": "xyz:NVDA"},
        "XYZ-TSLA/USDC:USDC": {"baseName": "xyz:TSLA"},
    }
    assert hip3_dexes(markets) == ["xyz"]
    assert adapter_for("hyperliquid").reads.position_params(markets) == [{}, {"dex": "xyz"}]
    assert adapter_for("bybit").reads.position_params(markets) == [{}]


WRAPPED_BTC = {
    "symbol": "BTC/USDC",
    "base": "BTC",
    "quote": "USDC",
    "baseName": "UBTC",
    "quoteId": "USDC",
    "spot": True,
}
"""ccxt's market of Hyperliquid's wrapped bitcoin (token ``UBTC``)."""


def test_a_spot_fee_in_a_wrapped_token_is_named_as_its_market_names_it() -> None:
    """ccxt lists Hyperliquid's wrapped ``UBTC`` as ``BTC`` (``BTC/USDC``, ``baseName`` ``UBTC``)
    while a fill's ``feeToken`` names the token: a buy's fee, taken in the base token, must be in
    the market's base, or the books would count it as a fee in some other currency."""
    market = WRAPPED_BTC
    bought = hyperliquid_normalise.trade_fixes({}, {"fee": "0.00001", "feeToken": "UBTC"}, market)
    sold = hyperliquid_normalise.trade_fixes({}, {"fee": "0.6", "feeToken": "USDC"}, market)
    other = hyperliquid_normalise.trade_fixes({}, {"fee": "1", "feeToken": "HYPE"}, market)
    assert [f["fee"]["currency"] for f in (bought, sold, other)] == ["BTC", "USDC", "HYPE"]


def test_a_ledger_update_in_a_wrapped_token_is_named_as_the_spot_wallet_names_it() -> None:
    """ccxt's spot balance names ``UBTC`` ``BTC``: a transfer of it must move ``BTC`` too, or the
    balance explanation would see a BTC change nothing explains and a UBTC entry with no balance."""
    markets = {"BTC/USDC": WRAPPED_BTC, "BTC/USDC:USDC": {"swap": True, "baseName": "BTC", "base": "BTC"}}
    delta = {
        "type": "spotTransfer",
        "token": "UBTC:0x8f254b963e8468305d409b33aa137c67",
        "amount": "0.01",
        "user": "0x01",
        "destination": "0x02",
        "fee": "0.0001",
        "feeToken": "UBTC",
    }
    info = {"time": 1733800000531, "hash": "0xab", "delta": delta}
    fixed = hyperliquid_normalise.ledger_fixes({"account": "0x01"}, info, markets)
    assert (fixed["currency"], fixed["fee"]["currency"]) == ("BTC", "BTC")
    usdc = {**delta, "token": "USDC", "feeToken": None}
    assert hyperliquid_normalise.ledger_fixes({}, {**info, "delta": usdc}, markets)["currency"] == "USDC"


def test_a_spot_state_push_names_wrapped_tokens_as_the_rest_spot_balance_does() -> None:
    """ccxt's REST spot balance names ``UBTC`` ``BTC``, its ``spotState`` parse ``UBTC``: the push
    is named as the read, or the cache would hold the same coins twice (``BTC`` and ``UBTC``)."""
    rows = [
        {"coin": "UBTC", "token": 197, "hold": "0.0", "total": "0.5", "entryNtl": "0.0"},
        {"coin": "USDC", "token": 0, "hold": "10.0", "total": "100.0", "entryNtl": "0.0"},
        {"coin": "HYPE", "token": 150, "hold": "0.0", "total": "2.0", "entryNtl": "0.0"},
    ]
    named, whole = hyperliquid_normalise.ws_balance(
        {"info": rows}, lambda c: c, {}, {"BTC/USDC": WRAPPED_BTC}
    )
    assert sorted(named) == ["BTC", "HYPE", "USDC"] and not whole
    assert (named["BTC"].total, named["USDC"].used) == (0.5, 10.0)
