"""ProcessCache: fullon's keys, TTL, lifecycle and staleness."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import cast

import pytest
import redis.asyncio as aioredis

from fake_clock import FakeClock
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.context import ProducerContext
from fullon_account_service.producers.heartbeat import Heartbeat
from fullon_account_service.storage import ProcessCache

T0 = 1_700_000_000.0


async def test_register_writes_fullon_keys_with_ttl(redis_client: aioredis.Redis) -> None:
    cache = ProcessCache(redis_client, clock=FakeClock(T0))
    pid = await cache.register_process("account", "kraken:7", {"ex_id": 7}, "watching", "running")
    assert pid == f"account:kraken:7:{T0}"

    data = json.loads(await redis_client.get(f"process:data:{pid}"))
    assert data["process_id"] == pid and data["process_type"] == "account"
    assert data["component"] == "kraken:7" and data["params"] == {"ex_id": 7}
    assert data["status"] == "running" and data["message"] == "watching"
    assert data["created_at"] == data["updated_at"] == data["heartbeat"] == "2023-11-14T22:13:20+00:00"
    assert 86_000 < await redis_client.ttl(f"process:data:{pid}") <= 86_400
    assert await redis_client.hget("process:active:account", pid) == b"2023-11-14T22:13:20+00:00"
    assert await redis_client.hget("process:components", "kraken:7") == pid.encode()


async def test_update_renews_heartbeat_and_ttl(redis_client: aioredis.Redis) -> None:
    clock = FakeClock(T0)
    cache = ProcessCache(redis_client, clock=clock)
    pid = await cache.register_process("account", "bybit:3")
    await redis_client.expire(f"process:data:{pid}", 10)
    clock.now += 60
    assert await cache.update_process(pid, "processing", "batch 1", params={"n": 1})
    data = await cache.get_process(pid) or {}
    assert data["status"] == "processing" and data["message"] == "batch 1" and data["params"] == {"n": 1}
    assert data["heartbeat"] == data["updated_at"] == "2023-11-14T22:14:20+00:00"
    assert data["created_at"] == "2023-11-14T22:13:20+00:00"
    assert await redis_client.ttl(f"process:data:{pid}") > 86_000
    assert not await cache.update_process("account:nobody:1.0", "running", "x")


async def test_statuses_are_lower_case_and_validated(redis_client: aioredis.Redis) -> None:
    cache = ProcessCache(redis_client, clock=FakeClock(T0))
    with pytest.raises(ValueError):
        await cache.register_process("account", "c", status="RUNNING")
    pid = await cache.register_process("account", "c")
    assert (await cache.get_process(pid) or {})["status"] == "starting"


async def test_get_active_filters_and_skips_stale(redis_client: aioredis.Redis) -> None:
    clock = FakeClock(T0)
    cache = ProcessCache(redis_client, clock=clock)
    old = await cache.register_process("account", "kraken:1", status="running")
    clock.now += 240
    fresh = await cache.register_process("account", "bybit:2", status="running")
    other = await cache.register_process("tick", "ticker", status="running")

    clock.now += 120  # old: 6 minutes without update; fresh: 2 minutes
    active = await cache.get_active_processes()
    assert {p["process_id"] for p in active} == {fresh, other}
    assert {p["process_id"] for p in await cache.get_active_processes("account")} == {fresh}
    assert [p["process_id"] for p in await cache.get_active_processes(component="ticker")] == [other]
    assert {p["process_id"] for p in await cache.get_active_processes(since_minutes=10)} == {
        old,
        fresh,
        other,
    }
    assert all(p["_heartbeat_stale"] is False for p in await cache.get_active_processes())

    assert await cache.update_process(old, "running", "back")
    assert {p["process_id"] for p in await cache.get_active_processes("account")} == {old, fresh}


async def test_stop_removes_from_indexes_but_keeps_record(redis_client: aioredis.Redis) -> None:
    clock = FakeClock(T0)
    cache = ProcessCache(redis_client, clock=clock)
    first = await cache.register_process("account", "kraken:1", status="running")
    assert await cache.stop_process(first)
    data = await cache.get_process(first) or {}
    assert data["status"] == "stopped"
    assert not await redis_client.hexists("process:active:account", first)
    assert not await redis_client.hexists("process:components", "kraken:1")
    assert await cache.get_active_processes() == []
    assert not await cache.stop_process("account:nobody:1.0")

    # Stopping an old process does not unlink the newer process that replaced it.
    clock.now += 1
    older = await cache.register_process("account", "bybit:2")
    clock.now += 1
    newer = await cache.register_process("account", "bybit:2")
    assert await cache.stop_process(older)
    assert await redis_client.hget("process:components", "bybit:2") == newer.encode()
    assert {p["process_id"] for p in await cache.get_active_processes()} == {newer}


async def test_expired_records_are_dropped_from_the_index(redis_client: aioredis.Redis) -> None:
    cache = ProcessCache(redis_client, clock=FakeClock(T0))
    pid = await cache.register_process("account", "gone")
    await redis_client.delete(f"process:data:{pid}")
    assert await cache.get_active_processes("account") == []
    assert not await redis_client.hexists("process:active:account", pid)


async def test_a_fullon_health_check_finds_one_component_per_account(redis_client: aioredis.Redis) -> None:
    """The seed's health check keeps the components with ``"account" in component.lower()``."""
    context = cast(ProducerContext, SimpleNamespace(status={}))
    heartbeat = Heartbeat(ProcessCache(redis_client, clock=FakeClock(T0)), context)
    for ref in (AccountRef(1, 1, "kraken"), AccountRef(2, 1, "bybit"), AccountRef(3, 1, "kraken")):
        await heartbeat.register(ref, "full_websocket")
    components = {
        k.decode(): v.decode() for k, v in (await redis_client.hgetall("process:components")).items()
    }
    found = {c: pid for c, pid in components.items() if "account" in c.lower()}
    assert sorted(found) == ["account:bybit:2", "account:kraken:1", "account:kraken:3"]
    for component, pid in found.items():
        data = json.loads(await redis_client.get(f"process:data:{pid}"))
        assert data["component"] == component and data["process_type"] == "account"
