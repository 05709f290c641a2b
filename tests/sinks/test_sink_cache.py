"""The cache sink: latest snapshot wins by exchange time, partial ones merge, empty ones delete."""

from __future__ import annotations

import json

import pytest
import redis.asyncio as aioredis
from sink_samples import Db, deliveries, envelope

from fullon_account_service.contract import (
    BalanceSnapshot,
    CurrencyBalance,
    OrderStatus,
    OrderUpdate,
    Position,
    PositionSide,
    PositionSnapshot,
    Side,
)
from fullon_account_service.errors import ContractError
from fullon_account_service.sinks.accounts import KnownAccounts
from fullon_account_service.sinks.cache_sink import CacheSink
from fullon_account_service.storage.account_cache import AccountCache

T0 = 1_700_000_000_000


def balances(partial: bool = False, **totals: float) -> BalanceSnapshot:
    return BalanceSnapshot(
        balances={cur: CurrencyBalance(total=t, free=t, used=0.0) for cur, t in totals.items()},
        partial=partial,
    )


def position(symbol: str, volume: float, side: PositionSide = PositionSide.LONG) -> Position:
    return Position(symbol=symbol, side=side, volume=volume, entry_price=100.0)


@pytest.fixture
def sink(db: Db, redis_client: aioredis.Redis) -> CacheSink:
    return CacheSink(redis_client, AccountCache(redis_client), KnownAccounts(db.factory))


async def stored_account(redis: aioredis.Redis, ex_id: int = 1) -> dict[str, object]:
    raw = await redis.hget("accounts", str(ex_id))
    assert raw is not None
    document: dict[str, object] = json.loads(raw)
    return document


async def test_an_older_snapshot_never_overwrites_a_newer_one(
    sink: CacheSink, redis_client: aioredis.Redis
) -> None:
    await sink.handle(deliveries([envelope(balances(BTC=2.0), exchange_ms=T0 + 200)]))
    await sink.handle(deliveries([envelope(balances(BTC=1.0), exchange_ms=T0 + 100)]))
    assert (await stored_account(redis_client))["BTC"] == {
        "total": 2.0,
        "free": 2.0,
        "used": 0.0,
        "balance": 2.0,
        "available": 2.0,
    }
    # Inside one batch too, whatever the arrival order; an older partial is dropped as well.
    await sink.handle(
        deliveries(
            [
                envelope(balances(BTC=5.0, USDT=9.0), exchange_ms=T0 + 400),
                envelope(balances(BTC=3.0), exchange_ms=T0 + 300),
                envelope(balances(partial=True, BTC=4.0), exchange_ms=T0 + 350),
            ]
        )
    )
    account = await stored_account(redis_client)
    assert {k: v["total"] for k, v in account.items() if isinstance(v, dict)} == {"BTC": 5.0, "USDT": 9.0}
    assert isinstance(account["date"], str)
    assert await redis_client.hget("accounts:exchange_ms", "1") == str(T0 + 400).encode()


async def test_partial_snapshots_merge_and_complete_ones_replace(
    sink: CacheSink, redis_client: aioredis.Redis
) -> None:
    await sink.handle(deliveries([envelope(balances(BTC=1.0, USDT=100.0, ETH=3.0), exchange_ms=T0)]))
    await sink.handle(deliveries([envelope(balances(partial=True, BTC=1.5), exchange_ms=T0 + 10)]))
    totals = {k: v["total"] for k, v in (await stored_account(redis_client)).items() if isinstance(v, dict)}
    assert totals == {"BTC": 1.5, "USDT": 100.0, "ETH": 3.0}
    await sink.handle(
        deliveries(
            [
                envelope(balances(partial=True, USDT=50.0), exchange_ms=T0 + 20),
                envelope(balances(partial=True, ETH=2.0), exchange_ms=T0 + 30),
            ]
        )
    )
    totals = {k: v["total"] for k, v in (await stored_account(redis_client)).items() if isinstance(v, dict)}
    assert totals == {"BTC": 1.5, "USDT": 50.0, "ETH": 2.0}
    await sink.handle(
        deliveries(
            [
                envelope(balances(USDT=7.0), exchange_ms=T0 + 40),
                envelope(balances(partial=True, BTC=0.5), exchange_ms=T0 + 50),
            ]
        )
    )
    totals = {k: v["total"] for k, v in (await stored_account(redis_client)).items() if isinstance(v, dict)}
    assert totals == {"USDT": 7.0, "BTC": 0.5}


async def test_positions_merge_close_and_delete_when_nothing_is_open(
    sink: CacheSink, redis_client: aioredis.Redis
) -> None:
    snap = PositionSnapshot(
        positions=[position("BTC/USDT:USDT", 1.0), position("ETH/USDT:USDT", 2.0, PositionSide.SHORT)]
    )
    await sink.handle(deliveries([envelope(snap, exchange_ms=T0)]))
    raw = json.loads(await redis_client.hget("account_positions", "1") or b"{}")
    assert set(raw) == {"BTC/USDT:USDT", "ETH/USDT:USDT", "timestamp"}
    assert raw["ETH/USDT:USDT"]["side"] == "short"
    assert {"cost", "volume", "fee", "count", "price", "timestamp"} <= set(raw["BTC/USDT:USDT"])
    close_btc = PositionSnapshot(positions=[position("BTC/USDT:USDT", 0.0, PositionSide.FLAT)], partial=True)
    await sink.handle(deliveries([envelope(close_btc, exchange_ms=T0 + 10)]))
    assert [p["symbol"] for p in await AccountCache(redis_client).get_positions(1)] == ["ETH/USDT:USDT"]
    await sink.handle(deliveries([envelope(PositionSnapshot(positions=[]), exchange_ms=T0 + 20)]))
    assert await redis_client.hget("account_positions", "1") is None
    # A late snapshot from before the close does not bring the positions back.
    await sink.handle(deliveries([envelope(snap, exchange_ms=T0 + 5)]))
    assert await redis_client.hget("account_positions", "1") is None
    await sink.handle(deliveries([envelope(snap, exchange_ms=T0 + 30)]))
    close_all = PositionSnapshot(
        positions=[
            position("BTC/USDT:USDT", 0.0, PositionSide.FLAT),
            position("ETH/USDT:USDT", 0.0, PositionSide.FLAT),
        ],
        partial=True,
    )
    await sink.handle(deliveries([envelope(close_all, exchange_ms=T0 + 40)]))
    assert await redis_client.hget("account_positions", "1") is None


async def test_unknown_account_and_foreign_kind_are_contract_errors(sink: CacheSink) -> None:
    with pytest.raises(ContractError, match="unknown ex_id"):
        await sink.handle(deliveries([envelope(balances(BTC=1.0), ex_id=42)]))
    order = OrderUpdate(
        ex_order_id="o", symbol="BTC/USDT", side=Side.BUY, order_type="limit", status=OrderStatus.OPEN
    )
    with pytest.raises(ContractError, match="order event"):
        await sink.handle(deliveries([envelope(order)]))
