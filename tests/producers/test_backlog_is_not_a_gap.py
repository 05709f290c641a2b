"""A producer behind on its own outbox reads no history because of it, and still misses nothing.

At saturation the collector's publishes wait for room in the outbox. That is a backlog, not a
gap: each wait once asked for a reconciliation, which re-read every kind's history from the
cursors minus the overlap and republished what the re-read found and the dedup memories had
forgotten (the e2e bench's bus events per fact rose from x1.0 to x1.3-1.8 at saturation). Here the
outbox holds one event, so nearly every message waits; no reconciliation may follow (no stream
reconnects here), and the fills the simulator keeps off the stream (``rest_only_fill``) must
still reach the bus, through the audits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import redis.asyncio as aioredis
from producer_harness import (
    Binding,
    RecordingSensor,
    bind_accounts,
    check_truth,
    collecting,
    eventually,
    make_context,
)

from fullon_account_service.contract import Source
from fullon_account_service.producers.context import ProducerContext
from fullon_account_service.producers.reconcile import Reconciler
from fullon_account_service.producers.session import AccountSession
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.model import Faults
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

STEPS = 80


class BacklogSensor(RecordingSensor):
    def __init__(self) -> None:
        super().__init__()
        self.waits = 0

    def on_backpressure(self, buffer: str) -> None:
        self.waits += 1


def count_sources(reconciler: Reconciler) -> Counter[Source]:
    """Reconciler runs by source, counted as they start."""
    runs: Counter[Source] = Counter()
    run = reconciler.run

    async def counted(session: AccountSession, kinds: Iterable[str], source: Source = Source.REST) -> None:
        runs[source] += 1
        await run(session, kinds, source)

    reconciler.run = counted  # type: ignore[method-assign]
    return runs


def _reconciled(ctx: ProducerContext, bindings: list[Binding]) -> None:
    """Every account's first reconciliation is over (a cycle that failed is tried again)."""
    sessions = [ctx.registry.get(b.ref.ex_id) for b in bindings]
    assert all(s is not None and s.last_audit_at is not None for s in sessions)


async def test_outbox_backlog_asks_for_no_reconciliation_and_loses_nothing(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    faults = Faults(rest_only_fill_probability=0.3)
    config = ScenarioConfig(venues=("kraken", "bybit"), accounts_per_venue=1, seed=23)
    async with Simulator(config, faults=faults) as sim:
        bindings = bind_accounts(sim)
        sensor = BacklogSensor()
        ctx = make_context(sim, settings, redis_client, bindings, sensor=sensor)
        ctx.outbox._max = 1  # every burst of a message waits on the flusher
        runs = count_sources(ctx.reconciler)
        async with collecting(ctx, bindings):
            await eventually(lambda: _reconciled(ctx, bindings), timeout_s=60)
            runs.clear()
            waits = sensor.waits
            sim.engine.run_steps(STEPS)
            await eventually(lambda: check_truth(redis_client, settings.stream_prefix, bindings), 60)
            assert sim.world.fault_counts.count("rest_only_fill") > 0, "no fill was kept off the stream"
            assert sensor.waits > waits, "the outbox never made a publish wait: no backlog was tested"
            assert sensor.reconnects == 0, "a stream reconnected: its reconciliation is not the backlog's"
            assert runs[Source.RECONCILE] == 0, f"the backlog asked for reconciliations: {dict(runs)}"
            assert runs[Source.REST] > 0, "no audit ran"
