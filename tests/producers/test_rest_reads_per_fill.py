"""What a WebSocket fill costs in REST calls, and what the audits still catch.

A fill over WebSocket asks for the open orders once at most (Kraken reports partial fills on its
trade channel only), never for the fill or order history: the REST calls made against the
simulator are counted by method, apart for audits and for the other reads, until the bus covers
the ground truth (the audits catch what the streams lost). A fill the WebSocket never sends (the
simulator's ``rest_only_fill``) is found by an audit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import replace

import redis.asyncio as aioredis
from producer_harness import FAST, Binding, bind_accounts, check_truth, collecting, eventually, make_context

from fullon_account_service.contract import Source
from fullon_account_service.metrics.sensor import Sensor
from fullon_account_service.producers.context import ProducerContext
from fullon_account_service.producers.reconcile import ALL_KINDS, Reconciler
from fullon_account_service.producers.rest_poller import RestAccountPoller
from fullon_account_service.producers.session import AccountSession
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.model import Faults
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

HISTORY = {"fetch_my_trades", "fetch_closed_orders", "fetch_canceled_and_closed_orders", "fetch_order"}
CHANNELS = {"kraken": {"executions", "balances"}, "bybit": {"execution", "order"}}
STEPS = 60


class CallCounter(Sensor):
    """REST calls by method, apart for audits (and reconciliations) and for other reads; one
    account per venue, so the venue says which account's read a call belongs to."""

    def __init__(self) -> None:
        self.audit: dict[str, bool] = {}
        self.in_audits: Counter[str] = Counter()
        self.outside: Counter[str] = Counter()

    def on_rest_call(self, exchange: str, method: str) -> None:
        (self.in_audits if self.audit.get(exchange) else self.outside)[method] += 1


def counting(reconciler: Reconciler, sensor: CallCounter) -> None:
    run = reconciler.run

    async def counted(session: AccountSession, kinds: Iterable[str], source: Source = Source.REST) -> None:
        wanted = tuple(kinds)
        sensor.audit[session.ref.venue] = set(ALL_KINDS) <= set(wanted)
        await run(session, wanted, source)

    reconciler.run = counted  # type: ignore[method-assign]


@asynccontextmanager
async def collecting_reconciled(
    sim: Simulator, ctx: ProducerContext, bindings: list[Binding]
) -> AsyncIterator[None]:
    """Streams subscribed and the first reconciliation done for every account; all stopped after."""
    async with collecting(ctx, bindings) as (_, poller):
        for b in bindings:
            await sim.world.subscriptions.wait(b.account, CHANNELS[b.ref.venue], timeout_s=60)
        await eventually(lambda: _reconciled(poller, [b.ref.ex_id for b in bindings]), timeout_s=60)
        yield


def _reconciled(poller: RestAccountPoller, ex_ids: list[int]) -> None:
    assert all(poller.cycles.get(ex_id, 0) >= 1 for ex_id in ex_ids), poller.cycles


async def test_websocket_fills_read_no_history_outside_audits(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    config = ScenarioConfig(venues=("kraken", "bybit"), accounts_per_venue=1, seed=21)
    async with Simulator(config) as sim:
        bindings = bind_accounts(sim)
        sensor = CallCounter()
        # no silent-stream polling: every read is an audit or what a stream asked for
        timing = replace(FAST, silence_threshold_s=3600.0)
        ctx = make_context(sim, settings, redis_client, bindings, timing=timing, sensor=sensor)
        counting(ctx.reconciler, sensor)
        async with collecting_reconciled(sim, ctx, bindings):
            sensor.outside.clear()
            sim.engine.run_steps(STEPS)
            await eventually(lambda: check_truth(redis_client, settings.stream_prefix, bindings), 60)

        fills = sum(len(b.account.fills) for b in bindings)
        assert fills > 0, "the scenario made no fill"
        history = {m: n for m, n in sensor.outside.items() if m in HISTORY}
        assert history == {}, f"history read outside audits: {history}"
        outside = sum(sensor.outside.values())
        assert outside <= fills, f"{outside} REST calls outside audits for {fills} fills: {sensor.outside}"
        assert sensor.in_audits, "no audit ran"


async def test_a_fill_the_websocket_never_sent_is_found_by_the_audit(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    faults = Faults(rest_only_fill_probability=0.5)
    config = ScenarioConfig(venues=("kraken", "bybit"), accounts_per_venue=1, seed=22)
    async with Simulator(config, faults=faults) as sim:
        bindings = bind_accounts(sim)
        ctx = make_context(sim, settings, redis_client, bindings)
        async with collecting_reconciled(sim, ctx, bindings):
            sim.engine.run_steps(STEPS)
            assert sim.world.fault_counts.count("rest_only_fill") > 0, "no fill was kept off the stream"
            # every fill, those kept off the stream included; after the first reconciliation only
            # an audit reads the fill history (no stream reconnects here)
            await eventually(lambda: check_truth(redis_client, settings.stream_prefix, bindings), 60)
