"""Kraken's closed orders: a page Kraken sent full is read as full, whatever the orders' opening
times. Kraken selects and pages closed orders by closing time, while ccxt drops the rows opened
before the ``since`` it is given; an order opened before the read and closed inside it made a full
page look like the last one, and the orders below it, never seen by the producer, never reached the
bus (the chaos run of seed 1 lost a market order closed while its producer was down this way).
Real ccxt against the simulator, on a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import redis.asyncio as aioredis
from history_harness import Clock, bus_differences, producer, register, wall_ms
from producer_harness import Binding, bind_accounts
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fullon_account_service.contract import Source
from fullon_account_service.producers.venues.kraken import history as kraken_history
from fullon_account_service.producers.venues.kraken.history import PAGE
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.model import SimAccount, SimOrder
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

S = 1_000
SYMBOL = "BTC/USD"


def _resting(sim: Simulator, account: SimAccount) -> SimOrder:
    """A small buy far below the market: it rests until canceled."""
    price = round(sim.ledger.price("kraken", SYMBOL) * 0.5, 1)
    return sim.ledger.place_order(account, SYMBOL, "buy", "limit", 0.001, price)


def _open_and_cancel(sim: Simulator, account: SimAccount, clock: Clock, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        clock.advance(S)
        order = _resting(sim, account)
        sim.ledger.cancel(account, order)
        ids.append(order.order_id)
    return ids


@asynccontextmanager
async def _one_seen_open(
    settings: Settings,
    redis_client: aioredis.Redis,
    session_factory: async_sessionmaker[AsyncSession],
    *,
    seed: int,
) -> AsyncIterator[tuple[Simulator, Binding, Clock, SimOrder]]:
    """A Kraken account with one resting order, reconciled once by a producer that then stops:
    the order is seen open and the cursors are at the clock."""
    clock = Clock(wall_ms() - 3600 * S)
    config = ScenarioConfig(venues=("kraken",), accounts_per_venue=1, seed=seed)
    async with Simulator(config, now_ms=clock) as sim:
        (binding,) = bind_accounts(sim, first_ex_id=await register(session_factory, sim))
        resting = _resting(sim, binding.account)
        clock.advance(600 * S)
        async with producer(sim, settings, redis_client, binding, clock) as p:
            await p.cycle(source=Source.RECONCILE)
        yield sim, binding, clock, resting


async def test_an_order_opened_before_the_read_does_not_cut_the_closed_history_short(
    settings: Settings, redis_client: aioredis.Redis, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with _one_seen_open(settings, redis_client, session_factory, seed=3) as (
        sim,
        binding,
        clock,
        early,
    ):
        account = binding.account
        # The producer is down: orders open and close unseen, ``early`` closes among the newest
        # page, opened long before the next read's start (the cursor less the overlap).
        unseen = _open_and_cancel(sim, account, clock, 10)
        clock.advance(S)
        sim.ledger.cancel(account, early)
        unseen += _open_and_cancel(sim, account, clock, PAGE - 5)
        assert len(unseen) + 1 > PAGE, "the closed history must take two pages"
        async with producer(sim, settings, redis_client, binding, clock) as p:
            await p.cycle(source=Source.RECONCILE)
            assert await bus_differences(sim, redis_client, settings, binding, ("order",)) == []


async def test_a_long_closed_walk_remembers_only_the_ids_it_looks_up(
    settings: Settings,
    redis_client: aioredis.Redis,
    session_factory: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The orders read remembers which ids its closed pages listed and finished, to probe the
    tracked orders no read listed and to keep a finished one out of the open list. Remembering
    every id held thousands of strings per account while audits waited for a place between pages
    (bench/RESULTS.md "Stop 36"): only the open list's and the tracked orders' ids are kept."""
    walked: list[Any] = []
    original = kraken_history.fetch_closed_orders

    async def spied(*args: Any) -> Any:
        read = await original(*args)
        walked.append(args[-1])  # the page callback, whose closure holds what it remembered
        return read

    monkeypatch.setattr(kraken_history, "fetch_closed_orders", spied)
    async with _one_seen_open(settings, redis_client, session_factory, seed=4) as (
        sim,
        binding,
        clock,
        tracked,
    ):
        account = binding.account
        closed = _open_and_cancel(sim, account, clock, PAGE + 10)
        clock.advance(S)
        sim.ledger.cancel(account, tracked)
        walked.clear()
        async with producer(sim, settings, redis_client, binding, clock) as p:
            await p.cycle(source=Source.RECONCILE)
            assert await bus_differences(sim, redis_client, settings, binding, ("order",)) == []
        remembered = [
            cell.cell_contents
            for publish in walked
            for cell in publish.__closure__ or ()
            if isinstance(cell.cell_contents, set)
        ]
        assert len(closed) > PAGE and remembered, "a walk of two pages, seen by the spy"
        assert all(ids <= {tracked.order_id} for ids in remembered), remembered
