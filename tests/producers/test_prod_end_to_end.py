"""Producer against the simulator with real ccxt: the bus must cover the ground truth."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
import redis.asyncio as aioredis

from fullon_account_service.producers.context import ProducerContext
from fullon_account_service.producers.live_collector import LiveAccountCollector
from fullon_account_service.producers.rest_poller import RestAccountPoller
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator
from producer_harness import Binding, bind_accounts, close, eventually, fold, make_context, read_bus


async def _collect(ctx: ProducerContext, bindings: Sequence[Binding]) -> tuple[LiveAccountCollector, RestAccountPoller]:
    collector = LiveAccountCollector(context=ctx)
    poller = RestAccountPoller(context=ctx)
    for b in bindings:
        await collector.start_exchange(b.ref)
        await poller.start_exchange(b.ref)
    return collector, poller


# What each venue can say about an order's final state: Kraken has no "rejected" (it reports a
# rejected order as canceled with a reason).
_VENUE_STATUS = {("kraken", "rejected"): "canceled"}


async def _check_truth(redis: aioredis.Redis, prefix: str, bindings: Sequence[Binding]) -> None:
    view = fold(await read_bus(redis, prefix))
    for b in bindings:
        ex_id, acct = b.ref.ex_id, b.account
        fills = view.fills.get(ex_id, {})
        assert set(fills) == {f.trade_id for f in acct.fills}, f"{acct.venue} ex_id={ex_id} fills differ"
        assert all(len(ids) == 1 for ids in fills.values()), "a fill got two event ids"
        orders = view.orders.get(ex_id, {})
        for order in acct.orders.values():
            got = orders.get(order.order_id)
            assert got is not None, f"{acct.venue} order {order.order_id} ({order.status}) missing"
            expected = _VENUE_STATUS.get((acct.venue, order.status), order.status)
            assert got.status.value == expected, f"{acct.venue} order {order.order_id}: {got.status} != {expected}"
            assert close(got.filled or 0.0, order.filled), f"order {order.order_id} filled {got.filled}"
        balances = view.balances.get(ex_id, {})
        for cur, bal in acct.balances.items():
            if bal.total == 0 and cur not in balances:
                continue
            assert cur in balances, f"{acct.venue} balance {cur} missing"
            assert close(balances[cur].total, bal.total, 1e-6), f"{acct.venue} {cur} {balances[cur].total} != {bal.total}"
        positions = view.positions.get(ex_id, {})
        truth_positions = {s: p for s, p in acct.positions.items() if p.contracts != 0}
        assert set(positions) == set(truth_positions), f"{acct.venue} positions {set(positions)} != {set(truth_positions)}"
        for symbol, p in truth_positions.items():
            assert positions[symbol].side.value == p.side
            assert close(positions[symbol].volume, abs(p.contracts))


@pytest.mark.parametrize("venue", ["kraken", "bybit", "hyperliquid"])
async def test_bus_covers_ground_truth(venue: str, settings: Settings, redis_client: aioredis.Redis) -> None:
    async with Simulator(ScenarioConfig(venues=(venue,), accounts_per_venue=5, seed=11, rate_per_s=40)) as sim:
        bindings = bind_accounts(sim)
        ctx = make_context(sim, settings, redis_client, bindings)
        collector, poller = await _collect(ctx, bindings)
        try:
            sim.start_engine()
            await asyncio.sleep(3.0)
            await sim.stop_engine()
            await eventually(lambda: _check_truth(redis_client, settings.stream_prefix, bindings), timeout_s=15)
        finally:
            await collector.stop_collection()
            await poller.stop_polling()
            await ctx.close()
