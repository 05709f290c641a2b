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

import redis.asyncio as aioredis
from producer_harness import (
    RecordingSensor,
    check_truth,
    collecting_reconciled,
    eventually,
    kraken_and_bybit,
    make_context,
    on_reconcile,
)

from fullon_account_service.contract import Source
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.model import Faults

STEPS = 80


class BacklogSensor(RecordingSensor):
    def __init__(self) -> None:
        super().__init__()
        self.waits = 0

    def on_backpressure(self, buffer: str) -> None:
        self.waits += 1


async def test_outbox_backlog_asks_for_no_reconciliation_and_loses_nothing(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    async with kraken_and_bybit(seed=23, faults=Faults(rest_only_fill_probability=0.3)) as (sim, bindings):
        sensor = BacklogSensor()
        ctx = make_context(sim, settings, redis_client, bindings, sensor=sensor)
        ctx.outbox._max = 1  # every burst of a message waits on the flusher
        runs: Counter[Source] = Counter()  # reconciler runs by source, counted as they start
        on_reconcile(ctx.reconciler, lambda _session, _kinds, source: runs.update([source]))
        async with collecting_reconciled(sim, ctx, bindings):
            runs.clear()
            waits = sensor.waits
            sim.engine.run_steps(STEPS)
            await eventually(lambda: check_truth(redis_client, settings.stream_prefix, bindings), 60)
            assert sim.world.fault_counts.count("rest_only_fill") > 0, "no fill was kept off the stream"
            assert sensor.waits > waits, "the outbox never made a publish wait: no backlog was tested"
            assert sensor.reconnects == 0, "a stream reconnected: its reconciliation is not the backlog's"
            assert runs[Source.RECONCILE] == 0, f"the backlog asked for reconciliations: {dict(runs)}"
            assert runs[Source.REST] > 0, "no audit ran"
