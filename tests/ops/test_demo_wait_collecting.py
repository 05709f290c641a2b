"""The demo starts trading only once the producer collects every account (cold starts are slow).

One wait on the daemon's own condition (``AccountDaemon.wait_collecting``), here on a real daemon
against the simulator: it returns once every account is collected, names the account it never
collects, and says so when the producer stopped.
"""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fullon_account_service.demo.run import wait_collecting
from fullon_account_service.demo.wiring import (
    DemoOptions,
    credentials_env,
    producer_context,
    register_accounts,
)
from fullon_account_service.metrics.sensor import NULL_SENSOR
from fullon_account_service.producers.daemon import AccountDaemon
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

DEADLINE_S = 60.0
NEVER = 999
"""An ex_id the database does not have: no producer ever collects it."""


async def test_returns_once_every_account_is_collected_and_names_one_never_collected(
    settings: Settings,
    redis_client: aioredis.Redis,
    database_url: str,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    config = ScenarioConfig(venues=("kraken", "bybit"), accounts_per_venue=2, seed=31)
    async with Simulator(config) as sim:
        accounts = await register_accounts(sim, database_url)
        env = credentials_env(sim, accounts)
        ctx = producer_context(sim, settings, redis_client, env, DemoOptions(), NULL_SENSOR)
        daemon = AccountDaemon(
            settings=settings, context=ctx, session_factory=session_factory, handle_signals=False
        )
        ex_ids = [a.ex_id for a in accounts]
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(daemon.start())  # the wait begins before the daemon does
            try:
                assert await wait_collecting(daemon, ex_ids, DEADLINE_S) is None
                assert daemon.collected == set(ex_ids)
                poller, collector = daemon.rest_poller, daemon.live_collector
                assert poller is not None and collector is not None
                refs = daemon.accounts
                assert all(collector.is_collecting(refs[e]) or poller.is_polling(refs[e]) for e in ex_ids)

                why = await wait_collecting(daemon, [*ex_ids, NEVER], timeout_s=0.5)
                assert why == f"the producer did not collect ex_ids [{NEVER}] within 0.5s"
            finally:
                await daemon.stop()
        assert daemon.collected == frozenset()
        why = await wait_collecting(daemon, ex_ids, DEADLINE_S)
        assert why == "the producer stopped before it collected every account"
