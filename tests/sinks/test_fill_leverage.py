"""Leverage reaches stored fills (the venues' fill rows never carry it) and ``roi_pct`` is the
return on margin: the producer stamps each fill with its symbol's leverage from the latest
position, the ORM sink stores it and divides the closed cost by it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from fullon_account_service.contract import Source, TradeFill
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.normalise import Normaliser
from fullon_account_service.sinks.accounts import KnownAccounts
from fullon_account_service.sinks.orm_sink import OrmSink
from fullon_account_service.storage.db.models import Trade
from sink_samples import Db, deliveries

# What ccxt makes of each venue's position row and fill rows (see tests/producers/test_venue_shapes_*).
VENUES = {
    "bybit": ("BTC/USDT:USDT", 5.0),
    "hyperliquid": ("ETH/USDC:USDC", 12.0),
}


def _position(symbol: str, leverage: float) -> dict[str, Any]:
    return {"symbol": symbol, "side": "long", "contracts": 2.0, "entryPrice": 100.0, "leverage": leverage}


def _fill(symbol: str, trade_id: str, side: str, price: float, ts: int) -> dict[str, Any]:
    return {
        "id": trade_id,
        "order": f"o-{trade_id}",
        "symbol": symbol,
        "side": side,
        "price": price,
        "amount": 2.0,
        "cost": price * 2.0,
        "timestamp": ts,
        "fee": {"cost": 0.0, "currency": symbol.split(":")[1]},
        "takerOrMaker": "taker",
    }


def _normalised(venue: str, *, with_position: bool) -> list[Any]:
    symbol, leverage = VENUES[venue]
    normaliser = Normaliser(AccountRef(ex_id=1, uid=1, venue=venue), {symbol}, str, lambda: 1)
    if with_position:
        normaliser.positions([_position(symbol, leverage)], Source.REST, complete=True)
    rows = [
        _fill(symbol, "t1", "buy", 100.0, 1_700_000_000_000),
        _fill(symbol, "t2", "sell", 110.0, 1_700_000_001_000),
    ]
    return normaliser.trades(rows, Source.REST).envelopes


@pytest.mark.parametrize("venue", sorted(VENUES))
async def test_leverage_is_stored_and_roi_pct_is_on_margin(db: Db, venue: str) -> None:
    symbol, leverage = VENUES[venue]
    envelopes = _normalised(venue, with_position=True)
    assert all(isinstance(e.payload, TradeFill) and e.payload.leverage == leverage for e in envelopes)
    await OrmSink(db.factory, KnownAccounts(db.factory)).handle(deliveries(envelopes))
    async with db.factory() as session:
        rows = {
            r.ex_trade_id: r
            for r in (await session.scalars(select(Trade).where(Trade.symbol == symbol))).all()
        }
    assert rows["t1"].leverage == rows["t2"].leverage == leverage
    assert rows["t2"].roi == pytest.approx(20.0)  # 2 x (110 - 100)
    margin = 200.0 / leverage
    assert rows["t2"].roi_pct == pytest.approx(20.0 / margin * 100)


async def test_without_a_known_position_leverage_stays_unknown(db: Db) -> None:
    envelopes = _normalised("bybit", with_position=False)
    assert all(e.payload.leverage is None for e in envelopes)
    await OrmSink(db.factory, KnownAccounts(db.factory)).handle(deliveries(envelopes))
    async with db.factory() as session:
        close = (await session.scalars(select(Trade).where(Trade.ex_trade_id == "t2"))).one()
    assert close.leverage is None
    assert close.roi_pct == pytest.approx(10.0)  # on notional: documented fallback, leverage 1
