"""AccountCache: the raw Redis shapes fullon tools read, freshness, and latest-wins writes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import redis.asyncio as aioredis

from fullon_account_service.contract.events import Position, PositionSide
from fullon_account_service.redis_client import is_cluster
from fullon_account_service.storage import AccountCache, ProcessCache
from fullon_account_service.storage.cache_shapes import position_from_contract
from fullon_account_service.storage.versioned_hash import freshness_key

NOW = 1_700_000_000.0


def clock_at(value: float = NOW) -> Any:
    return lambda: value


def btc_position(volume: float = 0.5, side: str = "long") -> dict[str, Any]:
    return {
        "symbol": "BTC/USDT:USDT",
        "cost": volume * 30_000.0,
        "volume": volume,
        "fee": 1.25,
        "count": 2,
        "price": 30_000.0,
        "timestamp": NOW - 5,
        "side": side,
    }


async def test_raw_hashes_have_the_fullon_shapes(redis_client: aioredis.Redis) -> None:
    cache = AccountCache(redis_client, clock=clock_at())
    await cache.upsert_user_account(
        7, {"BTC": {"total": 1.5, "free": 1.2, "used": 0.3}, "USDT": {"total": 0.0}}
    )
    await cache.upsert_positions(7, [btc_position()])

    # Read as a fullon tool would: plain HGET / HGETALL and json.loads.
    accounts = json.loads(await redis_client.hget("accounts", "7"))
    assert accounts["BTC"] == {"total": 1.5, "free": 1.2, "used": 0.3, "balance": 1.5, "available": 1.2}
    assert accounts["USDT"] == {"total": 0.0, "free": None, "used": None, "balance": 0.0, "available": None}
    assert accounts["date"].startswith("2023-11-14T22:13:20") and accounts["date"].endswith("+00:00")
    assert set(await redis_client.hkeys("accounts")) == {b"7"}

    positions = json.loads(await redis_client.hget("account_positions", "7"))
    assert set(positions) == {"BTC/USDT:USDT", "timestamp"}
    assert positions["BTC/USDT:USDT"] == {
        "cost": 15_000.0,
        "volume": 0.5,
        "fee": 1.25,
        "count": 2,
        "price": 30_000.0,
        "timestamp": NOW - 5,
        "side": "long",
    }
    assert positions["timestamp"].endswith("+00:00")
    assert await redis_client.type("accounts") == b"hash"
    assert await redis_client.ttl("accounts") == -1


async def test_unknown_values_are_null_never_zero(redis_client: aioredis.Redis) -> None:
    cache = AccountCache(redis_client, clock=clock_at())
    await cache.upsert_user_account(1, {"ETH": {"total": None, "free": 2.0, "used": None}})
    raw = await redis_client.hget("accounts", "1")
    assert b'"total":null' in raw and b'"used":null' in raw
    assert await cache.get_full_account(1, "ETH") == {
        "total": None,
        "free": 2.0,
        "used": None,
        "balance": None,
        "available": 2.0,
    }
    assert await cache.get_full_account(1, "BTC") is None
    assert await cache.get_full_account(2, "ETH") is None


async def test_get_positions_filters_by_exchange(redis_client: aioredis.Redis) -> None:
    cache = AccountCache(redis_client, clock=clock_at())
    await cache.upsert_positions_many({1: [btc_position(1.0)], 2: [btc_position(2.0, "short")]})
    mine = await cache.get_positions(1)
    assert [(p["ex_id"], p["symbol"], p["volume"], p["side"]) for p in mine] == [
        ("1", "BTC/USDT:USDT", 1.0, "long")
    ]
    everything = await cache.get_all_positions()
    assert {k: [p["volume"] for p in v] for k, v in everything.items()} == {"1": [1.0], "2": [-2.0]}
    assert await cache.get_positions(3) == []


async def test_empty_or_flat_positions_delete_the_field(redis_client: aioredis.Redis) -> None:
    cache = AccountCache(redis_client, clock=clock_at())
    await cache.upsert_positions(4, [btc_position()])
    assert await redis_client.hexists("account_positions", "4")
    await cache.upsert_positions(4, [])
    assert not await redis_client.hexists("account_positions", "4")
    await cache.upsert_positions(4, [btc_position()])
    await cache.upsert_positions(4, [btc_position(0.0, "flat")])
    assert not await redis_client.hexists("account_positions", "4")


async def test_contract_position_is_signed_and_keeps_unknowns(redis_client: aioredis.Redis) -> None:
    cache = AccountCache(redis_client, clock=clock_at())
    position = Position(symbol="ETH/USDC:USDC", side=PositionSide.SHORT, volume=3.0, entry_price=2_000.0)
    await cache.upsert_positions(9, [position_from_contract(position, NOW)])
    (stored,) = await cache.get_positions(9)
    assert stored["side"] == "short" and stored["volume"] == -3.0 and stored["price"] == 2_000.0
    assert stored["cost"] == -6_000.0
    assert (stored["fee"], stored["count"]) == (0.0, 0) and stored["mark_price"] is None


async def test_freshness_is_recorded_per_exchange(redis_client: aioredis.Redis) -> None:
    now = [NOW]
    cache = AccountCache(redis_client, clock=lambda: now[0])
    assert await cache.get_freshness(5) is None
    await cache.upsert_user_account(5, {"BTC": {"total": 1.0}})
    now[0] = NOW + 42.5
    await cache.upsert_accounts_many({6: {"BTC": {"total": 2.0}}})
    await cache.upsert_positions(6, [btc_position()])
    assert await cache.get_freshness(5) == NOW
    assert await cache.get_freshness(6) == NOW + 42.5
    assert await cache.get_positions_freshness(6) == NOW + 42.5
    assert await cache.get_positions_freshness(5) is None
    assert (
        float(await redis_client.hget(freshness_key("accounts", clustered=is_cluster(redis_client)), "6"))
        == NOW + 42.5
    )


async def test_an_older_snapshot_never_overwrites_a_newer_one(redis_client: aioredis.Redis) -> None:
    cache = AccountCache(redis_client, clock=clock_at())
    assert await cache.upsert_user_account(1, {"BTC": {"total": 2.0}}, exchange_ms=2_000)
    assert not await cache.upsert_user_account(1, {"BTC": {"total": 1.0}}, exchange_ms=1_000)
    assert (await cache.get_full_account(1, "BTC") or {})["total"] == 2.0
    assert await cache.upsert_user_account(1, {"BTC": {"total": 2.0}}, exchange_ms=2_000)
    written = await cache.upsert_positions_many(
        {1: [btc_position(1.0)], 2: [btc_position(2.0)]}, exchange_ms={1: 500, 2: 600}
    )
    assert written == {1: True, 2: True}
    written = await cache.upsert_positions_many({1: [], 2: [btc_position(3.0)]}, exchange_ms={1: 400, 2: 700})
    assert written == {1: False, 2: True}
    assert [p["volume"] for p in await cache.get_positions(1)] == [1.0]
    assert [p["volume"] for p in await cache.get_positions(2)] == [3.0]


async def test_partial_updates_merge_into_the_stored_document(redis_client: aioredis.Redis) -> None:
    cache = AccountCache(redis_client, clock=clock_at())
    await cache.upsert_user_account(1, {"BTC": {"total": 1.0}, "USDT": {"total": 100.0}}, exchange_ms=10)
    assert await cache.merge_accounts_many({1: {"USDT": {"total": 90.0, "free": 90.0, "used": 0.0}}})
    assert await cache.merge_accounts_many({1: {"ETH": {"total": 3.0}}}, exchange_ms={1: 5}) == {1: False}
    account = await cache.get_account(1) or {}
    assert account["BTC"]["total"] == 1.0 and account["USDT"]["total"] == 90.0 and "ETH" not in account

    eth = dict(btc_position(1.0), symbol="ETH/USDT:USDT")
    await cache.merge_positions_many({3: [btc_position(1.0), eth]})
    await cache.merge_positions_many({3: [btc_position(0.0, "flat")]})
    assert [p["symbol"] for p in await cache.get_positions(3)] == ["ETH/USDT:USDT"]
    await cache.merge_positions_many({3: [dict(eth, volume=0.0)]})
    assert not await redis_client.hexists("account_positions", "3")


async def test_concurrent_partial_updates_lose_nothing(redis_client: aioredis.Redis) -> None:
    caches = [AccountCache(redis_client, clock=clock_at()) for _ in range(4)]
    currencies = [f"C{i}" for i in range(24)]

    async def writer(index: int) -> None:
        for currency in currencies[index::4]:
            await caches[index].merge_accounts_many({1: {currency: {"total": float(index)}}})

    async with asyncio.timeout(60):
        await asyncio.gather(*(writer(i) for i in range(4)))
    account = await caches[0].get_account(1) or {}
    assert sorted(k for k in account if k != "date") == sorted(currencies)


async def test_usable_as_async_context_manager(redis_client: aioredis.Redis) -> None:
    async with AccountCache(redis_client) as cache:
        await cache.upsert_user_account(1, {"BTC": {"total": 1.0}})
        assert set(await cache.get_all_accounts()) == {"1"}
    assert await redis_client.ping()


async def test_zero_argument_caches_use_the_environment(redis_client: aioredis.Redis) -> None:
    async with AccountCache() as cache:
        await cache.upsert_user_account(11, {"BTC": {"total": 1.0}})
        assert (await cache.get_full_account(11, "BTC") or {})["total"] == 1.0
    async with ProcessCache() as processes:
        pid = await processes.register_process("account", "zero-arg")
        assert await processes.stop_process(pid)
