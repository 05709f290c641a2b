"""The fill cursor never moves past fills it did not fetch: a read cut by the page budget or by a
venue's time window keeps the cursor at the first gap and the next cycles read on from there.
Real ccxt against the simulator, on a clock the test moves."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from history_harness import (
    DAY_MS,
    OVERLAP_MS,
    Clock,
    bus_differences,
    orm_sink,
    producer,
    register,
    step,
    stored_differences,
    until,
    wall_ms,
)
from producer_harness import bind_accounts, eventually, read_bus
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fullon_account_service.contract import Source
from fullon_account_service.producers.venues.kraken.history import PAGE as KRAKEN_PAGE
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

FILLS = ("fill",)
FILLS_AND_ORDERS = ("fill", "order")


def _config(venue: str, seed: int) -> ScenarioConfig:
    return ScenarioConfig(venues=(venue,), accounts_per_venue=1, seed=seed)


async def _fill_count(redis: aioredis.Redis, settings: Settings) -> int:
    return sum(1 for e in await read_bus(redis, settings.stream_prefix) if e.kind == "trade")


async def test_bybit_outage_longer_than_its_7_day_window_loses_no_fill(
    settings: Settings, redis_client: aioredis.Redis, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Fills over 8.5 days while no producer runs: Bybit answers 7 days per request, so the
    restarted producer walks window by window up to now; every fill and order stored, once."""
    clock = Clock(wall_ms() - 10 * DAY_MS)
    async with (
        Simulator(_config("bybit", 21), now_ms=clock) as sim,
        orm_sink(settings, redis_client, session_factory),
    ):
        (binding,) = bind_accounts(sim, first_ex_id=await register(session_factory, sim))
        step(sim, clock, 40, 1_000)
        async with producer(sim, settings, redis_client, binding, clock) as p:
            await p.cycle(source=Source.RECONCILE)
            assert await bus_differences(sim, redis_client, settings, binding, FILLS) == []
        before = len(binding.account.fills)
        step(sim, clock, 600, int(8.5 * DAY_MS) // 600)
        late = [f for f in binding.account.fills if f.ts_ms > clock.ms - DAY_MS]
        assert late and len(binding.account.fills) > before, "the outage must hold fills in its last day"
        async with producer(sim, settings, redis_client, binding, clock) as p:

            async def stored() -> None:
                assert await bus_differences(sim, redis_client, settings, binding, FILLS_AND_ORDERS) == []

            await until(stored, lambda: p.cycle(source=Source.RECONCILE), rounds=6)

        async def in_database() -> None:
            assert (
                await stored_differences(sim, redis_client, session_factory, binding, FILLS_AND_ORDERS) == []
            )

        await eventually(in_database, timeout_s=60)


async def test_kraken_backlog_of_three_times_the_page_cap_loses_no_fill(
    settings: Settings, redis_client: aioredis.Redis, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Kraken pages newest first: a backlog of 3x the page cap (fills, and closed orders too) is
    read over several cycles, each going on below what the previous one read; every fill stored
    once, every order with its final state, the cursor never ahead of an unread fill."""
    clock = Clock(wall_ms() - DAY_MS)
    max_pages = 2
    async with (
        Simulator(_config("kraken", 5), now_ms=clock) as sim,
        orm_sink(settings, redis_client, session_factory),
    ):
        (binding,) = bind_accounts(sim, first_ex_id=await register(session_factory, sim))
        account = binding.account
        step(sim, clock, 20, 1_000)
        async with producer(sim, settings, redis_client, binding, clock, max_pages=max_pages) as p:
            await p.cycle(source=Source.RECONCILE)
            cursor_before = await p.reconciler._cursors.get(binding.ref.ex_id)
        assert cursor_before is not None
        first = len(account.fills)
        backlog = 3 * max_pages * KRAKEN_PAGE
        for _ in range(200):
            if len(account.fills) - first >= backlog:
                break
            step(sim, clock, 20, 2_000)
        assert len(account.fills) - first >= backlog
        oldest_unread = min(f.ts_ms for f in account.fills[first:])
        async with producer(sim, settings, redis_client, binding, clock, max_pages=max_pages) as p:
            await p.cycle(source=Source.RECONCILE)
            cursor = await p.reconciler._cursors.get(binding.ref.ex_id)
            assert cursor is not None and cursor <= oldest_unread, "the cursor moved past unread fills"
            assert await bus_differences(sim, redis_client, settings, binding, FILLS) != []

            async def stored() -> None:
                assert await bus_differences(sim, redis_client, settings, binding, FILLS_AND_ORDERS) == []

            await until(stored, lambda: p.cycle(), rounds=8)
            await p.cycle(("fills",))
            cursor = await p.reconciler._cursors.get(binding.ref.ex_id)
            assert cursor is not None and cursor >= clock.ms - 2 * OVERLAP_MS
        assert await _fill_count(redis_client, settings) >= len(account.fills)

        async def in_database() -> None:
            assert (
                await stored_differences(sim, redis_client, session_factory, binding, FILLS_AND_ORDERS) == []
            )

        await eventually(in_database, timeout_s=60)


@pytest.mark.parametrize(("venue", "seed"), [("kraken", 3), ("bybit", 4), ("hyperliquid", 6)])
async def test_a_new_account_reads_its_closed_orders_as_far_back_as_its_fills(
    settings: Settings, redis_client: aioredis.Redis, venue: str, seed: int
) -> None:
    """History made long before the first start (well beyond the overlap): the first
    reconciliation reads fills first and moves their cursor to now, and the closed orders must
    still be read from the lookback, not from that fresh fill cursor."""
    clock = Clock(wall_ms() - DAY_MS)
    async with Simulator(_config(venue, seed), now_ms=clock) as sim:
        (binding,) = bind_accounts(sim)
        step(sim, clock, 60, 20 * OVERLAP_MS // 60)
        closed = [o for o in binding.account.orders.values() if o.status != "open"]
        assert closed and min(o.updated_ms for o in closed) < clock.ms - 2 * OVERLAP_MS
        async with producer(sim, settings, redis_client, binding, clock) as p:

            async def published() -> None:
                assert await bus_differences(sim, redis_client, settings, binding, FILLS_AND_ORDERS) == []

            async def cycle() -> None:
                clock.advance(1_000)
                await p.cycle(source=Source.RECONCILE)

            await until(published, cycle, rounds=4)
