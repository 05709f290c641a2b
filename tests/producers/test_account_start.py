"""An account being started is not one whose loops died: the supervisor leaves it to its start.

At 1,000 accounts a start waits on Redis (the heartbeat's registration) before its loops are
spawned; the supervisor (``restart_dead``, every few seconds) found such an account listed
without a poll loop and logged ``poll loop of an account ended; restarting it`` for it.
"""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from producer_harness import bind_accounts, make_context
from structlog.testing import capture_logs

from fullon_account_service.producers import clients
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.account_set import AccountSet
from fullon_account_service.producers.collected import CollectedAccounts
from fullon_account_service.producers.upkeep import Upkeep
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

DEADLINE_S = 30.0


async def test_the_supervisor_leaves_an_account_alone_while_it_starts(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    async with Simulator(ScenarioConfig(venues=("kraken",), accounts_per_venue=1, seed=5)) as sim:
        bindings = bind_accounts(sim)
        ctx = make_context(sim, settings, redis_client, bindings)
        upkeep = Upkeep(ctx, interval_s=60.0, heap_trim_s=0.0)
        accounts = AccountSet(ctx, upkeep.heartbeat, CollectedAccounts())
        ref = bindings[0].ref
        entered, release = asyncio.Event(), asyncio.Event()
        register = upkeep.heartbeat.register

        async def held_register(account: AccountRef, strategy: str) -> None:
            entered.set()
            await release.wait()
            await register(account, strategy)

        upkeep.heartbeat.register = held_register  # type: ignore[method-assign]
        try:
            with capture_logs() as logs:
                async with asyncio.timeout(DEADLINE_S), asyncio.TaskGroup() as group:
                    start = group.create_task(accounts.start(ref))
                    await entered.wait()
                    await accounts.restart_dead()
                    assert not accounts.rest_poller.is_polling(ref)
                    release.set()
                    await start
            assert accounts.rest_poller.is_polling(ref)
            assert [e for e in logs if e["event"].startswith("poll loop")] == []
        finally:
            await accounts.close()
            await ctx.close()


async def test_every_venue_has_its_markets_before_the_first_account_client(
    settings: Settings, redis_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The factory exempts a venue's markets from the collector's passes only while no account
    client is alive: all three venues ask, not just the first account's."""
    frozen: list[str] = []
    monkeypatch.setattr(clients, "freeze_permanent", frozen.append)
    async with Simulator(ScenarioConfig(accounts_per_venue=1, seed=5)) as sim:
        bindings = bind_accounts(sim)
        ctx = make_context(sim, settings, redis_client, bindings)
        upkeep = Upkeep(ctx, interval_s=60.0, heap_trim_s=0.0)
        accounts = AccountSet(ctx, upkeep.heartbeat, CollectedAccounts())
        try:
            async with asyncio.timeout(DEADLINE_S):
                await accounts.apply({b.ref.ex_id: b.ref for b in bindings})
            assert (
                sorted(frozen)
                == sorted({b.ref.venue for b in bindings})
                == ["bybit", "hyperliquid", "kraken"]
            )
        finally:
            await accounts.close()
            await ctx.close()
