"""Bybit deposits and withdrawals that wait: one still pending when the ledger cursor passes its
time is followed in Redis across a restart and stored once, when and as it completes; a failed
withdrawal books nothing, as the venue books nothing. Real ccxt against the simulator, on a clock
the test moves; the ORM sink stores what reaches the bus."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from history_harness import DAY_MS, OVERLAP_MS, Clock, orm_sink, producer, register, step, wall_ms
from producer_harness import bind_accounts, eventually, read_bus
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fullon_account_service.contract import LedgerEntry, Source
from fullon_account_service.producers.pending_ledger import PendingLedger
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator
from fullon_account_service.storage.db.models import Ledger

CONFIG = ScenarioConfig(venues=("bybit",), accounts_per_venue=1, seed=31, funding_every_s=3600)


async def _stored(factory: async_sessionmaker[AsyncSession], ex_id: int) -> dict[str, list[Ledger]]:
    async with factory() as session:
        rows = (await session.scalars(select(Ledger).where(Ledger.ex_id == ex_id))).all()
    out: dict[str, list[Ledger]] = {}
    for row in rows:
        out.setdefault(row.ex_ledger_id, []).append(row)
    return out


async def test_a_deposit_pending_across_the_cursor_is_stored_once_when_it_completes(
    settings: Settings, redis_client: aioredis.Redis, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    clock = Clock(wall_ms() - DAY_MS)
    pending = PendingLedger(redis_client, prefix=settings.stream_prefix)
    async with Simulator(CONFIG, now_ms=clock) as sim, orm_sink(settings, redis_client, session_factory):
        (binding,) = bind_accounts(sim, first_ex_id=await register(session_factory, sim))
        ex_id, account = binding.ref.ex_id, binding.account
        step(sim, clock, 20, 1_000)
        deposit = sim.ledger.request_transfer(account, "deposit", "USDT", 1234.5)
        withdrawal = sim.ledger.request_transfer(account, "withdrawal", "USDT", 5.0)
        async with producer(sim, settings, redis_client, binding, clock) as p:
            clock.advance(10 * OVERLAP_MS)
            await p.cycle(kinds=("ledger",), source=Source.RECONCILE)
            cursor = await p.reconciler._ledger.cursors.get(ex_id)
            assert cursor is not None and cursor - OVERLAP_MS > deposit.requested_ms
            assert set(await pending.get(ex_id)) == {
                f"deposit:{deposit.transfer_id}",
                f"withdrawal:{withdrawal.transfer_id}",
            }
        step(sim, clock, 20, 60_000)
        booked = sim.ledger.settle_transfer(account, deposit, done=True)
        assert booked is not None
        assert sim.ledger.settle_transfer(account, withdrawal, done=False) is None
        async with producer(sim, settings, redis_client, binding, clock) as p:  # a restarted producer
            clock.advance(1_000)
            await p.cycle(kinds=("ledger",))
            clock.advance(1_000)
            await p.cycle(kinds=("ledger",))
            assert await pending.get(ex_id) == {}

        bus = [e.payload for e in await read_bus(redis_client, settings.stream_prefix)]
        mine = [p for p in bus if isinstance(p, LedgerEntry) and p.ex_ledger_id == deposit.transfer_id]
        assert len(mine) == 1
        assert not [p for p in bus if isinstance(p, LedgerEntry) and p.ex_ledger_id == withdrawal.transfer_id]

        async def in_database() -> None:
            stored = await _stored(session_factory, ex_id)
            assert deposit.transfer_id in stored
            [row] = stored[deposit.transfer_id]
            assert (row.amount, row.time_ms, row.reason, row.currency) == (
                pytest.approx(1234.5),
                booked.ts_ms,
                "deposit",
                "USDT",
            )
            assert withdrawal.transfer_id not in stored

        await eventually(in_database, timeout_s=60)


async def test_the_set_is_bounded_and_forgets_the_oldest_first(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    pending = PendingLedger(redis_client, prefix=settings.stream_prefix, limit=3)
    await pending.remember(1, {"deposit:a": 10, "deposit:b": 20, "withdrawal:c": 30})
    await pending.remember(1, {"deposit:d": 40, "deposit:b": 20})
    assert await pending.get(1) == {"deposit:b": 20, "withdrawal:c": 30, "deposit:d": 40}
    await pending.forget(1, ["deposit:b", "deposit:unknown"])
    assert await pending.get(1) == {"withdrawal:c": 30, "deposit:d": 40}
    assert await pending.get(2) == {}
