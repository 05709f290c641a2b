"""What fullon code reads from the cache sink's hashes, read the way fullon code reads them.

fullon_cache's readers decode the raw JSON and copy ``symbol, cost, volume, fee, count, price,
timestamp`` of each position (so ``side`` is lost and the sign of ``volume`` is the only way a
short reads as short), sum fees and counts, and fullon_cache_api turns every balance field into a
number with ``float(...)``. These tests do the same on the raw hashes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis.asyncio as aioredis

from fullon_account_service.contract import (
    BalanceSnapshot,
    CurrencyBalance,
    Position,
    PositionSide,
    PositionSnapshot,
)
from fullon_account_service.sinks.accounts import KnownAccounts
from fullon_account_service.sinks.cache_sink import CacheSink
from fullon_account_service.storage.account_cache import AccountCache
from sink_samples import Db, deliveries, envelope

T0 = 1_700_000_000_000
FULLON_POSITION_KEYS = ("cost", "volume", "fee", "count", "price", "timestamp")
BALANCE_FIELDS = ("total", "free", "used", "balance", "available")


@pytest.fixture
def sink(db: Db, redis_client: aioredis.Redis) -> CacheSink:
    return CacheSink(AccountCache(redis_client), KnownAccounts(db.factory))


async def fullon_positions(redis: aioredis.Redis) -> list[dict[str, Any]]:
    """Every position as fullon_cache's ``get_all_positions`` builds it (missing keys read 0.0)."""
    out = []
    for field, value in (await redis.hgetall("account_positions")).items():
        for symbol, data in json.loads(value).items():
            if symbol == "timestamp":
                continue
            row = {name: data.get(name, 0.0) for name in FULLON_POSITION_KEYS}
            out.append({"symbol": symbol, "ex_id": field.decode(), **row})
    return out


async def fullon_balances(redis: aioredis.Redis, ex_id: int) -> dict[str, dict[str, float]]:
    """Every currency of one account with ``float()`` of each field, as fullon_cache_api answers."""
    raw = await redis.hget("accounts", str(ex_id))
    assert raw is not None
    document = json.loads(raw)
    return {
        currency: {name: float(entry[name]) for name in BALANCE_FIELDS}
        for currency, entry in document.items()
        if currency != "date"
    }


def snapshot(partial: bool = False, **rows: tuple[float, float | None, float | None]) -> BalanceSnapshot:
    return BalanceSnapshot(
        balances={cur: CurrencyBalance(total=t, free=f, used=u) for cur, (t, f, u) in rows.items()},
        partial=partial,
    )


def totals_only(**totals: float) -> BalanceSnapshot:
    """Kraken's WebSocket balance: the total of the currencies that moved, nothing else."""
    return BalanceSnapshot(
        balances={cur: CurrencyBalance(total=t) for cur, t in totals.items()}, partial=True
    )


async def test_a_short_reads_as_short_and_fees_and_counts_sum(
    sink: CacheSink, redis_client: aioredis.Redis
) -> None:
    positions = PositionSnapshot(
        positions=[
            Position(symbol="ETH/USDT:USDT", side=PositionSide.SHORT, volume=3.0, entry_price=2_000.0),
            Position(symbol="BTC/USDT:USDT", side=PositionSide.LONG, volume=0.5, entry_price=40_000.0),
        ]
    )
    await sink.handle(deliveries([envelope(positions, ex_id=1, exchange_ms=T0)]))
    read = {p["symbol"]: p for p in await fullon_positions(redis_client)}
    assert read["ETH/USDT:USDT"]["volume"] == -3.0
    assert read["ETH/USDT:USDT"]["cost"] == -6_000.0
    assert read["BTC/USDT:USDT"]["volume"] == 0.5
    assert sum(p["fee"] for p in read.values()) == 0.0
    assert sum(p["count"] for p in read.values()) == 0
    raw = json.loads(await redis_client.hget("account_positions", "1") or b"{}")
    assert raw["ETH/USDT:USDT"]["side"] == "short"
    # A later partial update of the short keeps its sign; a flat one closes it.
    shorter = Position(symbol="ETH/USDT:USDT", side=PositionSide.SHORT, volume=1.0, entry_price=2_000.0)
    await sink.handle(deliveries([envelope(PositionSnapshot([shorter], partial=True), exchange_ms=T0 + 1)]))
    read = {p["symbol"]: p for p in await fullon_positions(redis_client)}
    assert read["ETH/USDT:USDT"]["volume"] == -1.0
    flat = Position(symbol="ETH/USDT:USDT", side=PositionSide.FLAT, volume=0.0)
    await sink.handle(deliveries([envelope(PositionSnapshot([flat], partial=True), exchange_ms=T0 + 2)]))
    assert [p["symbol"] for p in await fullon_positions(redis_client)] == ["BTC/USDT:USDT"]


async def test_positions_written_through_the_cache_api_are_signed(redis_client: aioredis.Redis) -> None:
    """Callers of ``upsert_positions`` may describe a short by side or by sign: both store fullon's."""
    cache = AccountCache(redis_client)
    await cache.upsert_positions(
        2,
        [
            {"symbol": "A/USDT:USDT", "volume": 2.0, "side": "short", "price": 1.0, "cost": -2.0},
            {"symbol": "B/USDT:USDT", "volume": -4.0, "price": 1.0, "cost": -4.0},
        ],
    )
    read = {p["symbol"]: p for p in await fullon_positions(redis_client)}
    assert (read["A/USDT:USDT"]["volume"], read["B/USDT:USDT"]["volume"]) == (-2.0, -4.0)
    assert {p["side"] for p in await cache.get_positions(2)} == {"short"}
    assert sum(p["fee"] for p in read.values()) == 0.0


async def test_totals_only_updates_keep_every_balance_field_a_number(
    sink: CacheSink, redis_client: aioredis.Redis
) -> None:
    rest = snapshot(BTC=(2.0, 1.5, 0.5), USD=(1_000.0, 800.0, 200.0))
    await sink.handle(deliveries([envelope(rest, exchange_ms=T0)]))
    await sink.handle(deliveries([envelope(totals_only(BTC=2.5), exchange_ms=T0 + 10)]))
    read = await fullon_balances(redis_client, 1)
    assert read["BTC"] == {"total": 2.5, "free": 2.0, "used": 0.5, "balance": 2.5, "available": 2.0}
    assert read["USD"]["available"] == 800.0
    # A run of totals-only updates, alone or after a complete snapshot in the same batch.
    await sink.handle(
        deliveries(
            [
                envelope(totals_only(USD=900.0), exchange_ms=T0 + 20),
                envelope(totals_only(USD=950.0, BTC=3.0), exchange_ms=T0 + 30),
            ]
        )
    )
    read = await fullon_balances(redis_client, 1)
    assert (read["USD"]["free"], read["USD"]["used"]) == (750.0, 200.0)
    assert (read["BTC"]["free"], read["BTC"]["used"]) == (2.5, 0.5)
    await sink.handle(
        deliveries(
            [
                envelope(snapshot(BTC=(1.0, 0.25, 0.75)), ex_id=2, exchange_ms=T0 + 40),
                envelope(totals_only(BTC=1.5), ex_id=2, exchange_ms=T0 + 50),
            ]
        )
    )
    assert (await fullon_balances(redis_client, 2))["BTC"]["available"] == 0.75


async def test_a_split_nobody_can_tell_stays_unknown_until_rest_tells_it(
    sink: CacheSink, redis_client: aioredis.Redis
) -> None:
    """A currency first seen totals-only, or a total below the known ``used``: null (the producer
    asks REST at once), never a made-up number; the REST snapshot then completes it for good."""
    await sink.handle(deliveries([envelope(snapshot(BTC=(2.0, 1.0, 1.0)), exchange_ms=T0)]))
    await sink.handle(deliveries([envelope(totals_only(XRP=10.0, BTC=0.5), exchange_ms=T0 + 10)]))
    document = json.loads(await redis_client.hget("accounts", "1") or b"{}")
    assert document["XRP"]["free"] is None and document["XRP"]["used"] is None
    assert document["BTC"]["total"] == 0.5 and document["BTC"]["available"] is None
    await sink.handle(
        deliveries([envelope(snapshot(BTC=(0.5, 0.5, 0.0), XRP=(10.0, 7.0, 3.0)), exchange_ms=T0 + 20)])
    )
    await sink.handle(deliveries([envelope(totals_only(XRP=12.0, BTC=0.7), exchange_ms=T0 + 30)]))
    read = await fullon_balances(redis_client, 1)
    assert read["XRP"] == {"total": 12.0, "free": 9.0, "used": 3.0, "balance": 12.0, "available": 9.0}
    assert read["BTC"]["available"] == 0.7
