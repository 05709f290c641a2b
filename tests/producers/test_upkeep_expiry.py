"""The daemon's upkeep applies each account's order-fact time bounds, which otherwise wait for the
account's next order row (at rest, for ever)."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from producer_harness import bind_accounts, eventually, make_context

from fullon_account_service.producers.upkeep import Upkeep
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator


async def test_the_upkeep_expires_each_sessions_order_facts_without_any_order_row(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    async with Simulator(ScenarioConfig(venues=("kraken",), accounts_per_venue=2, seed=11)) as sim:
        bindings = bind_accounts(sim)
        ctx = make_context(sim, settings, redis_client, bindings)
        sessions = [await ctx.registry.acquire(b.ref) for b in bindings]
        swept: list[int] = []
        for session in sessions:
            session.normaliser.expire = lambda ex_id=session.ref.ex_id: swept.append(ex_id)  # type: ignore[method-assign]

        async def no_restart() -> None:
            return None

        def every_session_swept() -> None:
            assert set(swept) == {b.ref.ex_id for b in bindings}

        upkeep = Upkeep(ctx, interval_s=0.05, heap_trim_s=0.0)
        stop = asyncio.Event()
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(upkeep._supervise(stop, no_restart))
                try:
                    await eventually(every_session_swept, timeout_s=60)
                finally:
                    stop.set()
        finally:
            await ctx.close()
