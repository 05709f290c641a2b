"""What an account reads over REST when nothing happens, and after one WebSocket fill.

Real ccxt against the simulator, one account per venue, every REST call counted by venue and
method (one account per venue, so the venue says whose call it was). The poller's audits run on a
clock the test steps by hand, so "K poll cycles at rest" and "one quiet audit interval later" are
conditions the test waits for, never a wall-clock window: the poller still cycles at its (short)
poll interval, but an audit is due only when the test moves the clock.

- At rest, an account whose strategy streams every kind reads nothing over REST between audits,
  however many cycles pass (a quiet stream is not polled), and reads everything once when the quiet
  audit interval has passed.
- A fill over WebSocket makes the reads it needs and no more: on Kraken the open orders (its trade
  channel reports partial fills alone) and the balance split (its balances channel sends totals),
  on Bybit none (its order stream reports the fill); then one audit at the poll interval (the
  account was active), and nothing after it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import redis.asyncio as aioredis
from producer_harness import (
    FAST,
    Binding,
    bind_accounts,
    check_truth,
    eventually,
    make_context,
    on_reconcile,
    read_bus,
)

from fake_clock import FakeClock
from fullon_account_service.contract import Source, TradeFill
from fullon_account_service.metrics.sensor import Sensor
from fullon_account_service.producers.context import ProducerContext
from fullon_account_service.producers.live_collector import LiveAccountCollector
from fullon_account_service.producers.reconcile import ALL_KINDS
from fullon_account_service.producers.rest_poller import RestAccountPoller
from fullon_account_service.producers.session import AccountSession
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.model import SimAccount
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

CYCLES = 5
"""Poll cycles an account is watched at rest: each one would read a polled kind once."""
TIMING = replace(FAST, poll_interval_s=0.2, fast_poll_interval_s=0.1, audit_interval_s=30.0)
SUBSCRIBED = {
    "kraken": {"executions", "balances"},
    "bybit": {"execution", "order"},
    "hyperliquid": {"orderUpdates", "userFills"},
}


class Calls(Sensor):
    """REST calls by venue and method; reads by venue, audits apart."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.audits: Counter[str] = Counter()

    def on_rest_call(self, exchange: str, method: str) -> None:
        self.calls[(exchange, method)] += 1

    def of(self, venue: str) -> dict[str, int]:
        return {method: n for (v, method), n in self.calls.items() if v == venue}

    def clear(self) -> None:
        self.calls.clear()
        self.audits.clear()


@dataclass(slots=True)
class Rig:
    sim: Simulator
    bindings: list[Binding]
    ctx: ProducerContext
    poller: RestAccountPoller
    clock: FakeClock
    sensor: Calls

    def session(self, venue: str) -> AccountSession:
        (binding,) = [b for b in self.bindings if b.ref.venue == venue]
        session = self.ctx.registry.get(binding.ref.ex_id)
        assert session is not None
        return session

    def account(self, venue: str) -> SimAccount:
        (binding,) = [b for b in self.bindings if b.ref.venue == venue]
        return binding.account

    async def cycles(self, n: int) -> None:
        """Wait until every account's poller ran ``n`` more cycles."""
        start = {b.ref.ex_id: self.poller.cycles.get(b.ref.ex_id, 0) for b in self.bindings}

        def ran() -> None:
            for ex_id, before in start.items():
                assert self.poller.cycles.get(ex_id, 0) >= before + n, f"ex_id {ex_id}: cycles"

        await eventually(ran, timeout_s=60, every_s=0.05)

    async def at_rest(self) -> None:
        """Wait until no account owes an audit and one whole cycle passed since: whatever the
        last reads asked for (open orders, a balance split) has been read."""

        def settled() -> None:
            for b in self.bindings:
                session = self.ctx.registry.get(b.ref.ex_id)
                assert session is not None and session.last_audit_at is not None, "not reconciled"
                assert not session.changed_since_audit and not session.rest_once, "reads owed"

        await eventually(settled, timeout_s=60, every_s=0.05)
        await self.cycles(2)
        await eventually(settled, timeout_s=60, every_s=0.05)


@asynccontextmanager
async def rig(settings: Settings, redis: aioredis.Redis, seed: int) -> AsyncIterator[Rig]:
    config = ScenarioConfig(venues=("kraken", "bybit", "hyperliquid"), accounts_per_venue=1, seed=seed)
    async with Simulator(config) as sim:
        bindings = bind_accounts(sim)
        sensor, clock = Calls(), FakeClock(1_000.0)
        ctx = make_context(sim, settings, redis, bindings, timing=TIMING, sensor=sensor)

        def seen(session: AccountSession, kinds: tuple[str, ...], _source: Source) -> None:
            if set(ALL_KINDS) <= set(kinds):
                sensor.audits[session.ref.venue] += 1

        on_reconcile(ctx.reconciler, seen)
        collector, poller = LiveAccountCollector(context=ctx), RestAccountPoller(context=ctx, clock=clock)
        try:
            for b in bindings:
                await collector.start_exchange(b.ref)
                await poller.start_exchange(b.ref)
            for b in bindings:
                await sim.world.subscriptions.wait(b.account, SUBSCRIBED[b.ref.venue], timeout_s=60)
            found = Rig(sim, bindings, ctx, poller, clock, sensor)
            await found.at_rest()
            yield found
        finally:
            await collector.stop_collection()
            await poller.stop_polling()
            await ctx.close()


async def test_an_account_at_rest_reads_nothing_between_its_quiet_audits(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    async with rig(settings, redis_client, seed=31) as r:
        r.sensor.clear()
        await r.cycles(CYCLES)
        assert dict(r.sensor.calls) == {}, f"REST calls at rest over {CYCLES} cycles: {r.sensor.calls}"

        r.clock.now += TIMING.audit_interval_s
        await eventually(lambda: _audited_once(r), timeout_s=60, every_s=0.05)
        r.sensor.clear()
        await r.cycles(CYCLES)
        assert dict(r.sensor.calls) == {}, f"REST calls after the quiet audit: {r.sensor.calls}"
        assert dict(r.sensor.audits) == {}


def _audited_once(r: Rig) -> None:
    assert dict(r.sensor.audits) == {"kraken": 1, "bybit": 1, "hyperliquid": 1}, r.sensor.audits
    for venue in ("kraken", "bybit", "hyperliquid"):
        assert r.session(venue).last_audit_at == r.clock.now, f"{venue}: audit not over"
        calls = r.sensor.of(venue)
        assert calls.get("fetch_my_trades", 0) >= 1 and calls.get("fetch_balance", 0) >= 1, (venue, calls)


async def test_a_websocket_fill_reads_what_it_needs_then_one_audit(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    async with rig(settings, redis_client, seed=32) as r:
        r.sensor.clear()
        filled = {venue: _market_fill(r.sim, r.account(venue)) for venue in ("kraken", "bybit")}
        await eventually(lambda: _on_the_bus(redis_client, settings.stream_prefix, filled), timeout_s=60)
        await eventually(lambda: _owes_an_audit(r, ("kraken", "bybit")), timeout_s=60, every_s=0.05)
        await r.cycles(CYCLES)
        # no audit is due on the stepped clock: what was read, the fill asked for
        assert dict(r.sensor.audits) == {}
        kraken, bybit = r.sensor.of("kraken"), r.sensor.of("bybit")
        assert set(kraken) <= {"fetch_open_orders", "fetch_balance"}, kraken
        assert kraken.get("fetch_open_orders") == 1, kraken
        # at most one balance read per Kraken message that moves the split (the order's updates,
        # the totals-only balances), coalesced when they come within one cycle
        assert 1 <= kraken.get("fetch_balance", 0) <= 4, kraken
        assert bybit == {}, f"bybit's order stream reports its fills, yet REST read {bybit}"
        assert r.sensor.of("hyperliquid") == {}

        r.clock.now += TIMING.poll_interval_s
        await eventually(lambda: _audits(r, {"kraken": 1, "bybit": 1}), timeout_s=60, every_s=0.05)
        assert r.session("hyperliquid").last_audit_at != r.clock.now, "an account at rest was audited"
        await r.at_rest()
        r.sensor.clear()
        await r.cycles(CYCLES)
        assert dict(r.sensor.calls) == {}, f"REST calls after the audit: {r.sensor.calls}"


def _market_fill(sim: Simulator, account: SimAccount) -> str:
    market = next(m for m in sim.world.markets[account.venue] if m.kind == "spot")
    order = sim.ledger.place_order(account, market.symbol, "buy", "market", market.lot)
    fill = sim.ledger.fill(
        account, order, market.lot, sim.ledger.price(account.venue, market.symbol), taker=True
    )
    return fill.trade_id


async def _on_the_bus(redis: aioredis.Redis, prefix: str, filled: dict[str, str]) -> None:
    trades = {
        e.payload.ex_trade_id for e in await read_bus(redis, prefix) if isinstance(e.payload, TradeFill)
    }
    assert set(filled.values()) <= trades, f"fills {filled} not all on the bus yet"


def _owes_an_audit(r: Rig, venues: Sequence[str]) -> None:
    for venue in venues:
        assert r.session(venue).changed_since_audit, f"{venue}: the fill did not mark the account active"


def _audits(r: Rig, expected: dict[str, int]) -> None:
    assert dict(r.sensor.audits) == expected, r.sensor.audits


async def test_a_kind_left_to_rest_is_read_each_cycle_from_its_cursor(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    """A Kraken account forced to REST: every cycle reads its fills, each read from the cursor
    (less the overlap), never again from the history's start."""
    config = ScenarioConfig(venues=("kraken",), accounts_per_venue=1, seed=33)
    async with Simulator(config) as sim:
        bindings = bind_accounts(sim, force_rest=[1])
        ctx = make_context(sim, settings, redis_client, bindings, timing=TIMING)
        poller = RestAccountPoller(context=ctx, clock=FakeClock(1_000.0))
        await poller.start_exchange(bindings[0].ref)
        try:
            await eventually(lambda: _session_of(ctx, 1), timeout_s=60, every_s=0.05)
            session = ctx.registry.get(1)
            assert session is not None
            sim.engine.run_steps(20)
            await eventually(lambda: check_truth(redis_client, settings.stream_prefix, bindings), 60)
            since = _record_since(session.client)
            cycles = poller.cycles.get(1, 0)
            await eventually(lambda: _assert(poller.cycles.get(1, 0) >= cycles + CYCLES), 60, every_s=0.05)
        finally:
            await poller.stop_polling()
            await ctx.close()
    assert len(since) >= CYCLES - 1, f"{len(since)} fill reads in {CYCLES} cycles"
    overlap_ms = ctx.reconciler.skew.overlap_ms("kraken")
    for called_ms, since_ms in since:
        # the cursor is the last read's start less the overlap; the read goes back the overlap
        # again, and one cycle (plus a loaded machine's delays) separates two reads
        assert since_ms >= called_ms - 2 * overlap_ms - 10_000, (called_ms - since_ms, overlap_ms)


def _session_of(ctx: ProducerContext, ex_id: int) -> None:
    session = ctx.registry.get(ex_id)
    assert session is not None and session.last_audit_at is not None, "not reconciled"


def _assert(condition: bool) -> None:
    assert condition


def _record_since(client: Any) -> list[tuple[int, int]]:
    """(wall ms of the call, ``since``) of every ``fetch_my_trades`` call of ``client`` from now."""
    calls: list[tuple[int, int]] = []
    fetch = client.fetch_my_trades

    async def recorded(symbol: Any = None, since: Any = None, limit: Any = None, params: Any = None) -> Any:
        calls.append((time.time_ns() // 1_000_000, since))
        return await fetch(symbol, since, limit, params or {})

    client.fetch_my_trades = recorded
    return calls
