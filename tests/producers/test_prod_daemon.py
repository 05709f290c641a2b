"""AccountDaemon with a real database: discovery, rediscovery, ProcessCache, errors, secrets."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from producer_harness import FAST, bind_accounts, credentials_env, eventually, make_context, read_bus
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fullon_account_service.account_admin import add_account
from fullon_account_service.contract import BalanceSnapshot
from fullon_account_service.logs import configure_logging
from fullon_account_service.producers.daemon import AccountDaemon
from fullon_account_service.producers.live_collector import LiveAccountCollector
from fullon_account_service.producers.rest_poller import RestAccountPoller
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator
from fullon_account_service.storage import DatabaseContext
from fullon_account_service.storage.process_cache import ProcessCache

Factory = async_sessionmaker[AsyncSession]


async def _balance_ex_ids(redis: aioredis.Redis, prefix: str) -> set[int]:
    return {e.ex_id for e in await read_bus(redis, prefix) if isinstance(e.payload, BalanceSnapshot)}


async def test_daemon_discovers_adds_and_drops_accounts(
    settings: Settings, redis_client: aioredis.Redis, session_factory: Factory
) -> None:
    settings = dataclasses.replace(settings, rediscover_interval_s=0.5)
    prefix = settings.stream_prefix
    async with Simulator(ScenarioConfig(accounts_per_venue=1, seed=9)) as sim:
        accounts = {a.venue: a for a in sim.world.accounts}
        async with DatabaseContext(session_factory) as db:
            user = await db.users.add("trader@example.com")
            kraken = await db.exchanges.add(user.uid, "kraken", "spot")
            bybit = await db.exchanges.add(user.uid, "bybit", "perps", force_rest=True)
        env: dict[str, str] = {}
        for ex_id, venue in ((kraken.ex_id, "kraken"), (bybit.ex_id, "bybit")):
            env[f"EX_ID_{ex_id}_KEY"], env[f"EX_ID_{ex_id}_SECRET"] = (
                accounts[venue].api_key,
                accounts[venue].secret,
            )
        ctx = make_context(sim, settings, redis_client, [], env=env)
        daemon = AccountDaemon(settings=settings, context=ctx, session_factory=session_factory)
        runner = asyncio.create_task(daemon.start())
        try:
            await eventually(lambda: _assert_accounts(daemon, {kraken.ex_id, bybit.ex_id}), timeout_s=60)
            assert daemon.is_running()
            assert daemon.rest_poller and daemon.rest_poller.is_polling(bybit)
            assert daemon.live_collector and daemon.live_collector.is_collecting(kraken)
            await eventually(
                lambda: _assert_bus(redis_client, prefix, {kraken.ex_id, bybit.ex_id}), timeout_s=60
            )

            hyper = await add_account(
                settings.database_url, exchange="hyperliquid", name="hl", user="trader@example.com"
            )
            hl = accounts["hyperliquid"]
            env[f"EX_ID_{hyper.ex_id}_KEY"], env[f"EX_ID_{hyper.ex_id}_SECRET"] = hl.api_key, hl.secret

            async def hyper_on_the_bus() -> None:
                pool = daemon.pool
                assert {hyper.ex_id} <= await _balance_ex_ids(redis_client, prefix), (
                    sorted(daemon.accounts),
                    sorted(daemon.collected),
                    daemon.context.status.get(hyper.ex_id),
                    pool.held if pool else None,
                )

            await eventually(hyper_on_the_bus, timeout_s=30)

            async with DatabaseContext(session_factory) as db:
                await db.exchanges.set_active(kraken.ex_id, False)
            await eventually(lambda: _assert_accounts(daemon, {bybit.ex_id, hyper.ex_id}), timeout_s=30)
            assert not daemon.live_collector.is_collecting(kraken)

            health = await daemon.get_health()
            assert health["service"] == "fullon_account_service" and health["is_running"] is True
            assert health["exchanges_monitored"] == 2
            assert {health["live_collector"], health["rest_poller"]} == {"active"}

            async def kraken_stopped_in_process_cache() -> None:
                procs = await ProcessCache(redis_client).get_active_processes(process_type="account")
                components = {p["component"]: p["status"] for p in procs}
                assert components.get(f"account:bybit:{bybit.ex_id}") in ("running", "starting")
                assert (
                    f"account:kraken:{kraken.ex_id}" not in components
                    or components[f"account:kraken:{kraken.ex_id}"] == "stopped"
                )

            # The account leaves the daemon just before its heartbeat is unregistered.
            await eventually(kraken_stopped_in_process_cache, timeout_s=30)
        finally:
            await daemon.stop()
            async with asyncio.timeout(60):
                await runner
    assert not daemon.is_running()
    assert (await daemon.get_health())["live_collector"] == "inactive"


async def test_an_account_in_error_starts_once_the_secrets_file_has_it(
    settings: Settings, redis_client: aioredis.Redis, session_factory: Factory, tmp_path: Path
) -> None:
    """The README's recovery for ``no credentials``: add the account to the secrets file, and the
    running producer collects it without a restart."""
    secrets = tmp_path / "secrets.json"
    secrets.write_text("{}")
    secrets.chmod(0o600)
    settings = dataclasses.replace(settings, rediscover_interval_s=0.5, secrets_file=secrets)
    async with Simulator(ScenarioConfig(venues=("bybit",), accounts_per_venue=1, seed=5)) as sim:
        [account] = sim.world.accounts
        async with DatabaseContext(session_factory) as db:
            user = await db.users.add("trader@example.com")
            bybit = await db.exchanges.add(user.uid, "bybit", "perps")
        ctx = make_context(sim, settings, redis_client, [], env={})
        daemon = AccountDaemon(settings=settings, context=ctx, session_factory=session_factory)
        runner = asyncio.create_task(daemon.start())
        try:

            def in_error() -> None:
                status, reason = ctx.status.get(bybit.ex_id, ("", ""))
                assert status == "error" and "no credentials" in reason

            await eventually(in_error, timeout_s=30)
            secrets.write_text(
                json.dumps({str(bybit.ex_id): {"key": account.api_key, "secret": account.secret}})
            )
            await eventually(
                lambda: _assert_bus(redis_client, settings.stream_prefix, {bybit.ex_id}), timeout_s=30
            )
            assert ctx.status[bybit.ex_id][0] != "error"
        finally:
            await daemon.stop()
            async with asyncio.timeout(60):
                await runner


async def test_a_stop_before_the_start_task_runs_ends_it(
    settings: Settings, redis_client: aioredis.Redis, session_factory: Factory
) -> None:
    """``create_task(daemon.start())`` then ``stop()`` in the same turn: the task ends instead of
    collecting on; a start called after that stop runs."""
    async with Simulator(ScenarioConfig(venues=("bybit",), accounts_per_venue=1, seed=4)) as sim:
        daemon = AccountDaemon(
            settings=settings,
            context=make_context(sim, settings, redis_client, []),
            session_factory=session_factory,
        )
        runner = asyncio.create_task(daemon.start())
        await daemon.stop()
        async with asyncio.timeout(30):
            await runner
        assert not daemon.is_running()

        runner = asyncio.create_task(daemon.start())
        try:
            await eventually(lambda: _assert_running(daemon), timeout_s=30)
        finally:
            await daemon.stop()
            async with asyncio.timeout(60):
                await runner
        assert not daemon.is_running()


def _assert_running(daemon: AccountDaemon) -> None:
    assert daemon.is_running()


def _assert_accounts(daemon: AccountDaemon, wanted: set[int]) -> None:
    assert set(daemon.accounts) == wanted


async def _assert_bus(redis: aioredis.Redis, prefix: str, wanted: set[int]) -> None:
    assert wanted <= await _balance_ex_ids(redis, prefix)


async def test_process_exchange_starts_a_single_account(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    async with Simulator(ScenarioConfig(venues=("bybit",), accounts_per_venue=1, seed=4)) as sim:
        bindings = bind_accounts(sim)
        daemon = AccountDaemon(settings=settings, context=make_context(sim, settings, redis_client, bindings))
        await daemon.process_exchange(bindings[0].ref)
        await daemon.process_exchange(bindings[0].ref)
        assert daemon.is_running() and list(daemon.accounts) == [bindings[0].ref.ex_id]
        await eventually(lambda: _assert_bus(redis_client, settings.stream_prefix, {1}), timeout_s=60)
        [process] = await ProcessCache(redis_client).get_active_processes(process_type="account")
        assert process["params"]["ex_id"] == bindings[0].ref.ex_id
        await daemon.stop()
        assert not daemon.is_running()
        assert await ProcessCache(redis_client).get_active_processes(process_type="account") == []


def _secrets(sim: Simulator) -> list[str]:
    out = []
    for account in sim.world.accounts:
        out += [account.api_key, account.secret]
    return out


async def _all_redis_bytes(redis: aioredis.Redis) -> bytes:
    chunks: list[bytes] = []
    async for key in redis.scan_iter():
        kind = (await redis.type(key)).decode()
        value: Any
        if kind == "stream":
            value = await redis.xrange(key)
        elif kind == "hash":
            value = await redis.hgetall(key)
        elif kind == "string":
            value = await redis.get(key)
        else:
            value = kind
        chunks.append(key + repr(value).encode())
    return b"".join(chunks)


async def test_wrong_credentials_isolated_and_no_secret_leaks(
    settings: Settings, redis_client: aioredis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging(dataclasses.replace(settings, log_level="DEBUG"))
    try:
        async with Simulator(
            ScenarioConfig(venues=("kraken", "bybit"), accounts_per_venue=2, seed=21)
        ) as sim:
            bindings = bind_accounts(sim)
            env = credentials_env(bindings)
            wrong = base64.b64encode(b"not the right secret at all, canary-0123456789").decode()
            env["EX_ID_1_SECRET"] = wrong
            env["EX_ID_3_SECRET"] = "canary-wrong-bybit-secret-42"
            ctx = make_context(sim, settings, redis_client, bindings, env=env, timing=FAST)
            collector, poller = LiveAccountCollector(context=ctx), RestAccountPoller(context=ctx)
            for b in bindings:
                await collector.start_exchange(b.ref)
                await poller.start_exchange(b.ref)
            sim.start_engine()
            try:
                await eventually(
                    lambda: _assert_bus(redis_client, settings.stream_prefix, {2, 4}), timeout_s=60
                )
                await eventually(lambda: _assert_error(ctx.status, {1, 3}), timeout_s=60)
                assert {1, 3}.isdisjoint(await _balance_ex_ids(redis_client, settings.stream_prefix))
                assert poller.get_status()["polling_exchanges"] == [1, 2, 3, 4]
            finally:
                await sim.stop_engine()
                await collector.stop_collection()
                await poller.stop_polling()
                await ctx.close()
            secrets = [*_secrets(sim), wrong, "canary-wrong-bybit-secret-42"]
    finally:
        root.handlers, root.level = saved[0], saved[1]
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "credentials" in text or "Invalid key" in text or "error" in text
    stored = await _all_redis_bytes(redis_client)
    for secret in secrets:
        assert secret not in text, "a secret reached the logs"
        assert secret.encode() not in stored, "a secret reached Redis"


def _assert_error(status: dict[int, tuple[str, str]], ex_ids: set[int]) -> None:
    for ex_id in ex_ids:
        assert status.get(ex_id, ("", ""))[0] == "error", status.get(ex_id)


async def test_totals_only_ws_balance_asks_rest_for_free_and_used(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    """Kraken's WebSocket balances carry totals only: the collector publishes them with free/used
    unknown and asks the poller for one REST balance read, which fills them in."""
    async with Simulator(ScenarioConfig(venues=("kraken",), accounts_per_venue=1, seed=4)) as sim:
        [binding] = bind_accounts(sim)
        ctx = make_context(sim, settings, redis_client, [binding])
        collector = LiveAccountCollector(context=ctx)
        session = await ctx.registry.acquire(binding.ref)
        try:
            message = {"channel": "balances", "type": "update", "data": [{"asset": "USD", "balance": 1000.0}]}
            watched = {"info": message, "USD": {"total": 1000.0, "free": None, "used": None}}
            await collector.on_balance_update(binding.ref, watched)
            assert "balance" in session.rest_once
            assert session.wake_poller.is_set()
        finally:
            await ctx.registry.release(binding.ref.ex_id)
            await ctx.close()
