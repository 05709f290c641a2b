"""Producer against the simulator with real ccxt: the bus must cover the ground truth."""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis
from producer_harness import (
    Binding,
    RecordingSensor,
    bind_accounts,
    check_truth,
    collecting,
    eventually,
    make_context,
    trade_until,
)

from fullon_account_service.producers.capabilities import CollectionStrategy
from fullon_account_service.producers.context import ProducerContext
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.model import Faults
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

CONFIG = ScenarioConfig(accounts_per_venue=5, seed=11, rate_per_s=60)


async def _run_and_check(
    sim: Simulator, ctx: ProducerContext, bindings: Sequence[Binding], redis: aioredis.Redis, prefix: str
) -> None:
    async with collecting(ctx, bindings):
        await trade_until(sim, bindings, fills_per_venue=40)
        sim.world.faults.rate_limit_probability = 0.0
        await eventually(lambda: check_truth(redis, prefix, bindings), timeout_s=60)


async def test_strategies_per_venue_including_forced_rest(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    async with Simulator(ScenarioConfig(accounts_per_venue=1, seed=3)) as sim:
        bindings = bind_accounts(sim, force_rest=(3,))
        ctx = make_context(sim, settings, redis_client, bindings)
        got = {b.ref.venue: await ctx.detector.detect_strategy(b.ref) for b in bindings}
        assert got == {
            "kraken": CollectionStrategy.PARTIAL_WEBSOCKET,
            "bybit": CollectionStrategy.FULL_WEBSOCKET,
            "hyperliquid": CollectionStrategy.REST_ONLY,
        }
        caps = await ctx.detector.get_capabilities(bindings[0].ref)
        assert caps["positions"] is False and caps["balance"] is True
        await ctx.close()


async def test_bus_covers_ground_truth(settings: Settings, redis_client: aioredis.Redis) -> None:
    """5 accounts per venue, one of them forced to REST only."""
    async with Simulator(CONFIG) as sim:
        bindings = bind_accounts(sim, force_rest=(7,))
        ctx = make_context(sim, settings, redis_client, bindings)
        await _run_and_check(sim, ctx, bindings, redis_client, settings.stream_prefix)


async def test_ws_drops_and_rest_only_fills_lose_nothing(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    faults = Faults(ws_drop_every_s=1.0, rest_only_fill_probability=0.5, duplicate_probability=0.1)
    async with Simulator(CONFIG, faults=faults) as sim:
        bindings = bind_accounts(sim)
        sensor = RecordingSensor()
        ctx = make_context(sim, settings, redis_client, bindings, sensor=sensor)
        await _run_and_check(sim, ctx, bindings, redis_client, settings.stream_prefix)
        assert sensor.reconnects > 0


async def test_rate_limit_storm_slows_polling_and_loses_nothing(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    faults = Faults(rate_limit_probability=0.5, rate_limit_retry_after_s=0.3)
    async with Simulator(ScenarioConfig(accounts_per_venue=2, seed=5, rate_per_s=40), faults=faults) as sim:
        bindings = bind_accounts(sim)
        sensor = RecordingSensor()
        ctx = make_context(sim, settings, redis_client, bindings, sensor=sensor)
        await _run_and_check(sim, ctx, bindings, redis_client, settings.stream_prefix)
        assert sensor.rate_limited > 0
