"""What a WebSocket fill costs in REST calls, and what the audits still catch.

A fill over WebSocket asks for the open orders once at most (Kraken reports partial fills on its
trade channel only), never for the fill or order history: the REST calls made against the
simulator are counted by method, apart for audits and for the other reads, until the bus covers
the ground truth (the audits catch what the streams lost). A fill the WebSocket never sends (the
simulator's ``rest_only_fill``) is found by an audit.
"""

from __future__ import annotations

from collections import Counter

import redis.asyncio as aioredis
from producer_harness import (
    check_truth,
    collecting_reconciled,
    eventually,
    kraken_and_bybit,
    make_context,
    on_reconcile,
)

from fullon_account_service.contract import Source
from fullon_account_service.metrics.sensor import Sensor
from fullon_account_service.producers.reconcile import ALL_KINDS, Reconciler
from fullon_account_service.producers.session import AccountSession
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.model import Faults

HISTORY = {"fetch_my_trades", "fetch_closed_orders", "fetch_canceled_and_closed_orders", "fetch_order"}
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
    def seen(session: AccountSession, kinds: tuple[str, ...], _source: Source) -> None:
        sensor.audit[session.ref.venue] = set(ALL_KINDS) <= set(kinds)

    on_reconcile(reconciler, seen)


async def test_websocket_fills_read_no_history_outside_audits(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    async with kraken_and_bybit(seed=21) as (sim, bindings):
        sensor = CallCounter()
        ctx = make_context(sim, settings, redis_client, bindings, sensor=sensor)
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
    async with kraken_and_bybit(seed=22, faults=Faults(rest_only_fill_probability=0.5)) as (sim, bindings):
        ctx = make_context(sim, settings, redis_client, bindings)
        async with collecting_reconciled(sim, ctx, bindings):
            sim.engine.run_steps(STEPS)
            assert sim.world.fault_counts.count("rest_only_fill") > 0, "no fill was kept off the stream"
            # every fill, those kept off the stream included; after the first reconciliation only
            # an audit reads the fill history (no stream reconnects here)
            await eventually(lambda: check_truth(redis_client, settings.stream_prefix, bindings), 60)
