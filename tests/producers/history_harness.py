"""A producer that reads the simulator's history on a test-controlled clock, stopped and restarted
at will, and checks of the bus against the simulator's truth for fills and orders only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import redis.asyncio as aioredis
from producer_harness import Binding, make_context, read_bus
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fullon_account_service.contract import Source
from fullon_account_service.producers.clock_skew import ClockSkew
from fullon_account_service.producers.open_orders import OpenOrderBook
from fullon_account_service.producers.pending_ledger import PendingLedger
from fullon_account_service.producers.reconcile import ALL_KINDS, Reconciler
from fullon_account_service.producers.session import AccountSession
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.model import SimAccount
from fullon_account_service.simulator.server import Simulator
from fullon_account_service.sinks.runner import run_sink
from fullon_account_service.storage.db.context import DatabaseContext
from fullon_account_service.verify import compare_events, verify_books

DAY_MS = 24 * 3600 * 1000
OVERLAP_MS = 60_000


@dataclass
class Clock:
    """The simulator's and the producer's clock: it moves only when the test moves it."""

    ms: int

    def __call__(self) -> int:
        return self.ms

    def advance(self, ms: int) -> None:
        self.ms += ms


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def step(sim: Simulator, clock: Clock, steps: int, gap_ms: int) -> None:
    for _ in range(steps):
        clock.advance(gap_ms)
        sim.engine.step()


@dataclass
class Producer:
    reconciler: Reconciler
    session: AccountSession

    async def cycle(self, kinds: Iterable[str] = ALL_KINDS, source: Source = Source.REST) -> None:
        await self.reconciler.run(self.session, kinds, source)


@asynccontextmanager
async def producer(
    sim: Simulator,
    settings: Settings,
    redis: aioredis.Redis,
    binding: Binding,
    clock: Clock,
    *,
    max_pages: int = 50,
) -> AsyncIterator[Producer]:
    """One producer process's worth of state for ``binding``: leaving the block is killing it
    (nothing in memory survives, the Redis cursor and open-order set do)."""
    ctx = make_context(sim, settings, redis, [binding])
    prefix = settings.stream_prefix
    ctx.reconciler = Reconciler(
        ctx.outbox,
        ctx.cursors,
        OpenOrderBook(redis, prefix=prefix),
        skew=ClockSkew(OVERLAP_MS // 2),
        clock_ms=clock,
        max_pages=max_pages,
        pending_ledger=PendingLedger(redis, prefix=prefix),
    )
    ctx.outbox.start()
    try:
        session = await ctx.registry.acquire(binding.ref)
        yield Producer(ctx.reconciler, session)
    finally:
        await ctx.close()


async def until(check: Callable[[], object], act: Callable[[], object], rounds: int) -> None:
    """``act`` then ``check`` (awaiting either when needed) until ``check`` stops failing."""
    last: AssertionError | None = None
    for _ in range(rounds):
        result = act()
        if hasattr(result, "__await__"):
            await result  # type: ignore[misc]
        try:
            checked = check()
            if hasattr(checked, "__await__"):
                await checked  # type: ignore[misc]
            return
        except AssertionError as e:
            last = e
    raise last or AssertionError("no rounds")


def differences(sim: Simulator, binding: Binding, envelopes: list, what: tuple[str, ...]) -> list[str]:
    """Differences between the bus and the truth for ``binding``'s fills and/or orders."""
    account: SimAccount = binding.account
    result = compare_events(
        sim.truth(), {(account.venue, account.index): binding.ref.ex_id}, envelopes, limit=100_000
    )
    return [d for d in result.differences if any(f": {w} " in d for w in what)]


async def bus_differences(
    sim: Simulator, redis: aioredis.Redis, settings: Settings, binding: Binding, what: tuple[str, ...]
) -> list[str]:
    return differences(sim, binding, await read_bus(redis, settings.stream_prefix), what)


async def register(factory: async_sessionmaker[AsyncSession], sim: Simulator) -> int:
    """The simulator's first account as an exchange row; its ex_id."""
    account = sim.world.accounts[0]
    async with DatabaseContext(factory) as db:
        user = await db.users.add("history@example.com")
        row = await db.exchanges.add(user.uid, account.venue, f"sim-{account.index}")
    return row.ex_id


@asynccontextmanager
async def orm_sink(
    settings: Settings, redis: aioredis.Redis, factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[None]:
    """The ORM sink consuming the bus for the length of the block."""
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(run_sink(settings, "orm", "history-test", redis, stop, session_factory=factory))
        try:
            yield
        finally:
            stop.set()


async def stored_differences(
    sim: Simulator,
    redis: aioredis.Redis,
    factory: async_sessionmaker[AsyncSession],
    binding: Binding,
    what: tuple[str, ...],
) -> list[str]:
    """Differences between the database and the truth for ``binding``'s fills and/or orders."""
    account = binding.account
    result = await verify_books(
        sim.truth(), {(account.venue, account.index): binding.ref.ex_id}, factory, redis, limit=100_000
    )
    return [d for d in result.differences if any(f": {w} " in d for w in what)]
