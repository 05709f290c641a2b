"""An update of an order ccxt no longer caches is still published whole and right.

ccxt keeps only the last ``ordersLimit`` orders of a stream (``clients.WS_OPTIONS``), the collector
empties the raw ``info`` of the rows it handled (``ws_backlog.drop_raw``) and then the cache
itself (``ws_backlog.held_back``), and Kraken's handler merges an update into the cached ``info``
of its order. Real ccxt against the simulator, per venue: more orders than the cache holds are
opened, then, once ccxt's cache is empty, the first and the last are canceled; each canceled
state must reach the bus over WebSocket with the symbol, side, volume and price the order was
opened with. On Kraken the cancels are also sent the way Kraken sends them, with only what
changed (no symbol, side, quantity or price): the normaliser completes them from what it
remembers of the order, not from ccxt's cache.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis
from producer_harness import bind_accounts, eventually, make_context, read_bus

from fullon_account_service.contract import OrderStatus, OrderUpdate, Source
from fullon_account_service.producers.clients import WS_OPTIONS
from fullon_account_service.producers.context import Timing
from fullon_account_service.producers.live_collector import LiveAccountCollector
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.model import SimAccount, SimOrder
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

ORDER_CHANNEL = {"kraken": "executions", "bybit": "order", "hyperliquid": "orderUpdates"}
QUIET_REST = Timing(poll_interval_s=600, fast_poll_interval_s=600, audit_interval_s=600)
"""No poll or audit while the test runs, and (below) no dropping of repeats: a REST read of a
canceled order before the stream's update is handled (a reconnect's reconciliation on a loaded
machine) would make that update a repeat, which is not published."""


def _place(sim: Simulator, account: SimAccount) -> SimOrder:
    market = sim.world.markets[account.venue][0]
    return sim.ledger.place_order(account, market.symbol, "buy", "limit", market.lot, market.price * 0.5)


def _kraken_sparse_cancel(sim: Simulator, account: SimAccount, order: SimOrder) -> None:
    """Post the cancel of ``order`` as Kraken's ``executions`` channel sends it (ccxt's docs of
    ``handle_orders``): no symbol, side, quantity or price. The account's socket session is the
    listener the simulator registered on the account."""
    (session,) = [
        listener.__self__
        for listener in account.listeners
        if getattr(getattr(listener, "__self__", None), "channels", None) is not None
    ]
    row: dict[str, Any] = {
        "timestamp": "2026-01-01T00:00:00.000000Z",
        "order_status": "canceled",
        "exec_type": "canceled",
        "order_userref": 0,
        "order_id": order.order_id,
        "cum_qty": 0,
        "cum_cost": 0,
        "fee_usd_equiv": 0,
        "avg_price": 0,
        "cancel_reason": "User requested",
        "reason": "User requested",
    }
    session._post("executions", "update", [row])


def _latest(envelopes: list[Any], order_id: str) -> OrderUpdate | None:
    found = [e for e in envelopes if isinstance(e.payload, OrderUpdate) and e.payload.ex_order_id == order_id]
    return found[-1].payload if found else None


@pytest.mark.parametrize(
    ("venue", "sparse"), [("kraken", False), ("kraken", True), ("bybit", False), ("hyperliquid", False)]
)
async def test_update_of_an_order_ccxt_evicted_is_published_whole(
    venue: str, sparse: bool, settings: Settings, redis_client: aioredis.Redis
) -> None:
    prefix = settings.stream_prefix
    async with Simulator(ScenarioConfig(venues=(venue,), accounts_per_venue=1, seed=5)) as sim:
        [binding] = bind_accounts(sim)
        account = binding.account
        ctx = make_context(sim, settings, redis_client, [binding], timing=QUIET_REST)
        ctx.outbox.states = None
        collector = LiveAccountCollector(context=ctx)
        await collector.start_exchange(binding.ref)
        try:
            await sim.world.subscriptions.wait(account, {ORDER_CHANNEL[venue]}, timeout_s=30)
            orders = [_place(sim, account) for _ in range(WS_OPTIONS["ordersLimit"] + 3)]
            first, last = orders[0], orders[-1]

            async def all_open() -> None:
                bus = await read_bus(redis_client, prefix)
                missing = [o.order_id for o in orders if _latest(bus, o.order_id) is None]
                assert not missing, f"{len(missing)} orders not on the bus yet"

            await eventually(all_open, timeout_s=30)
            session = ctx.registry.get(binding.ref.ex_id)
            assert session is not None
            client = session.client

            def handled_rows_dropped() -> None:
                assert len(client.orders) == 0, "handled orders still cached by ccxt"

            await eventually(handled_rows_dropped, timeout_s=30)
            assert client.last_http_response is None, "no REST body is kept after the read"

            for order in (first, last):
                if sparse:
                    _kraken_sparse_cancel(sim, account, order)
                else:
                    sim.ledger.cancel(account, order)
                await _canceled_over_ws(redis_client, prefix, order)
        finally:
            await collector.stop_collection()
            await ctx.close()


async def _canceled_over_ws(redis: aioredis.Redis, prefix: str, order: SimOrder) -> None:
    async def canceled() -> None:
        update = _latest(await read_bus(redis, prefix), order.order_id)
        assert update is not None and update.status is OrderStatus.CANCELED, update

    await eventually(canceled, timeout_s=30)
    ws = [
        e.payload
        for e in await read_bus(redis, prefix)
        if e.source == Source.WS
        and isinstance(e.payload, OrderUpdate)
        and e.payload.ex_order_id == order.order_id
        and e.payload.status is OrderStatus.CANCELED
    ]
    assert ws, f"the cancel of {order.order_id} should arrive over WebSocket"
    update = ws[-1]
    assert update.symbol == order.symbol
    assert update.side.value == order.side
    assert update.volume == pytest.approx(order.amount)
    assert update.price == pytest.approx(order.price)
    assert not update.filled
