"""Every request signed with an account's key holds the key lock, the WebSocket token Kraken's
``watch_*`` fetch inside ccxt included, so nonces reach the venue in order."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from producer_harness import bind_accounts, eventually, make_context

from fullon_account_service.settings import Settings
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator


def _waiting(lock: asyncio.Lock) -> None:
    assert getattr(lock, "_waiters", None), "nobody waits for the key lock"


async def test_kraken_websocket_token_request_waits_for_the_key_lock(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    async with Simulator(ScenarioConfig(venues=("kraken",), accounts_per_venue=1, seed=8)) as sim:
        [binding] = bind_accounts(sim)
        ctx = make_context(sim, settings, redis_client, [binding])
        session = await ctx.registry.acquire(binding.ref)
        watch: asyncio.Task[object] | None = None
        try:
            async with session.key_lock:
                watch = asyncio.create_task(session.client.watch_balance())
                await eventually(lambda: _waiting(session.key_lock), timeout_s=60, every_s=0.02)
                assert sim.world.subscriptions.active(binding.account) == set()
                rest = asyncio.create_task(session.call("fetch_balance"))
                await asyncio.sleep(0)
                assert not rest.done()
            await sim.world.subscriptions.wait(binding.account, {"balances"}, timeout_s=60)
            async with asyncio.timeout(60):
                balance = await rest
            assert "total" in balance
        finally:
            if watch is not None:
                watch.cancel()
                await asyncio.gather(watch, return_exceptions=True)
            await ctx.registry.release(binding.ref.ex_id)
            await ctx.close()
