"""Kraken end to end (real ccxt, simulated venue): at rest every stored balance field is a number.

Kraken's WebSocket sends totals only. The producer asks REST for the split after each such
update and the cache keeps the known ``used`` meanwhile, so once the venue is quiet every Kraken
currency in ``accounts`` reads with ``float()`` (as fullon_cache_api does) and equals the venue.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import pytest
import redis.asyncio as aioredis
from producer_harness import FAST, Binding, bind_accounts, close, eventually, make_context
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fullon_account_service.producers.context import Timing
from fullon_account_service.producers.live_collector import LiveAccountCollector
from fullon_account_service.producers.rest_poller import RestAccountPoller
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator
from fullon_account_service.sinks.runner import run_sink
from fullon_account_service.storage.db import DatabaseContext

FIELDS = ("total", "free", "used", "balance", "available")


async def _register(factory: async_sessionmaker[AsyncSession], bindings: Sequence[Binding]) -> None:
    async with DatabaseContext(factory) as db:
        user = await db.users.add("kraken@example.com")
        for b in bindings:
            exchange = await db.exchanges.add(user.uid, "kraken", b.ref.name)
            assert exchange.ex_id == b.ref.ex_id


async def _complete_and_right(redis: aioredis.Redis, bindings: Sequence[Binding]) -> None:
    for b in bindings:
        raw = await redis.hget("accounts", str(b.ref.ex_id))
        assert raw is not None, f"ex_id {b.ref.ex_id}: no balances"
        document = json.loads(raw)
        for currency, entry in document.items():
            if currency == "date":
                continue
            read = {name: float(entry[name]) for name in FIELDS}  # a null here is fullon's CACHE_ERROR
            truth = b.account.balances.get(currency)
            assert truth is not None, f"ex_id {b.ref.ex_id}: {currency} is not on the venue"
            assert close(read["total"], truth.total) and close(read["used"], truth.used), (
                f"ex_id {b.ref.ex_id} {currency}: stored {entry}, venue total {truth.total} used {truth.used}"
            )
            assert close(read["free"], truth.free) and read["available"] == read["free"]


@asynccontextmanager
async def _pipeline(
    sim: Simulator,
    settings: Settings,
    redis: aioredis.Redis,
    factory: async_sessionmaker[AsyncSession],
    bindings: Sequence[Binding],
    timing: Timing = FAST,
) -> AsyncIterator[None]:
    """Producers for ``bindings`` and the cache sink, until the block ends."""
    await _register(factory, bindings)
    ctx = make_context(sim, settings, redis, bindings, timing=timing)
    collector = LiveAccountCollector(context=ctx)
    poller = RestAccountPoller(context=ctx)
    stop = asyncio.Event()
    try:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(run_sink(settings, "cache", "rest", redis, stop, session_factory=factory))
            try:
                for b in bindings:
                    await collector.start_exchange(b.ref)
                    await poller.start_exchange(b.ref)
                yield
            finally:
                stop.set()
    finally:
        await collector.stop_collection()
        await poller.stop_polling()
        await ctx.close()


@pytest.mark.parametrize("seed", [13, 21])
async def test_kraken_balances_are_complete_at_rest(
    settings: Settings,
    redis_client: aioredis.Redis,
    session_factory: async_sessionmaker[AsyncSession],
    seed: int,
) -> None:
    config = ScenarioConfig(venues=("kraken",), accounts_per_venue=3, seed=seed, rate_per_s=40)
    async with Simulator(config) as sim:
        bindings = bind_accounts(sim)
        async with _pipeline(sim, settings, redis_client, session_factory, bindings):
            sim.start_engine()
            await asyncio.sleep(3.0)
            await sim.stop_engine()
            await eventually(lambda: _complete_and_right(redis_client, bindings), timeout_s=30)


async def test_an_order_moves_used_without_a_balances_message(
    settings: Settings, redis_client: aioredis.Redis, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Kraken says nothing on ``balances`` when an order only locks funds: the order update asks
    REST, so the stored split follows within a REST round trip, not after a quiet audit."""
    async with Simulator(ScenarioConfig(venues=("kraken",), accounts_per_venue=1, seed=5)) as sim:
        bindings = bind_accounts(sim)
        patient = dataclasses.replace(FAST, audit_interval_s=600.0)
        async with _pipeline(sim, settings, redis_client, session_factory, bindings, timing=patient):
            await eventually(lambda: _complete_and_right(redis_client, bindings), timeout_s=30)
            account = bindings[0].account
            price = sim.ledger.price("kraken", "BTC/USD") / 2
            order = sim.ledger.place_order(account, "BTC/USD", "buy", "limit", 0.01, price)
            assert order.status == "open"
            await eventually(lambda: _complete_and_right(redis_client, bindings), timeout_s=30)
            sim.ledger.cancel(account, order)
            await eventually(lambda: _complete_and_right(redis_client, bindings), timeout_s=30)
