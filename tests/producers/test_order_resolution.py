"""An order's final state is never lost: orders the service saw open, created long before the
cursor, then canceled, partly filled or filled while no producer ran, are resolved against the
venue after the restart. Real ccxt against the simulator, on a clock the test moves."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from history_harness import DAY_MS, Clock, bus_differences, producer, step, until, wall_ms
from producer_harness import bind_accounts, eventually, make_context, read_bus

from fullon_account_service.contract import OrderUpdate, Source
from fullon_account_service.producers.live_collector import LiveAccountCollector
from fullon_account_service.producers.open_orders import OpenOrderBook
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.model import SimAccount, SimOrder
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

ORDERS = ("order",)
HOUR_MS = 3600 * 1000


def _resting(sim: Simulator, account: SimAccount) -> list[SimOrder]:
    return [o for o in sim.ledger.open_orders(account) if o.order_type == "limit"]


def _grow_open_orders(sim: Simulator, clock: Clock, account: SimAccount, wanted: int) -> list[SimOrder]:
    actions = sim.engine._actions
    for _ in range(50):
        if len(_resting(sim, account)) >= wanted:
            break
        clock.advance(1_000)
        actions.place_limit(account)
    orders = _resting(sim, account)
    assert len(orders) >= wanted, "the scenario must leave resting orders"
    return orders


def _part(order: SimOrder, share: float, lot: float) -> float:
    return max(round(order.remaining * share / lot) * lot, lot)


def _while_down(sim: Simulator, clock: Clock, account: SimAccount, orders: list[SimOrder]) -> None:
    """Cancel one, fill one in part and cancel it, fill one completely, fill one in part only."""
    ledger = sim.ledger
    canceled, part_canceled, filled, partial = orders[:4]
    clock.advance(HOUR_MS)
    ledger.cancel(account, canceled)
    for order, share in ((part_canceled, 0.4), (partial, 0.3)):
        clock.advance(HOUR_MS)
        lot = ledger.market(account, order.symbol).lot
        ledger.fill(account, order, _part(order, share, lot), float(order.price or 0.0), taker=False)
    clock.advance(HOUR_MS)
    ledger.cancel(account, part_canceled)
    clock.advance(HOUR_MS)
    ledger.fill(account, filled, filled.remaining, float(filled.price or 0.0), taker=False)
    assert (canceled.status, part_canceled.status, filled.status, partial.status) == (
        "canceled",
        "canceled",
        "closed",
        "open",
    )
    assert part_canceled.filled > 0 and partial.filled > 0


@pytest.mark.parametrize("venue", ["kraken", "bybit", "hyperliquid"])
async def test_orders_changed_while_the_producer_was_down_are_resolved_after_restart(
    venue: str, settings: Settings, redis_client: aioredis.Redis
) -> None:
    clock = Clock(wall_ms() - DAY_MS)
    async with Simulator(ScenarioConfig(venues=(venue,), accounts_per_venue=1, seed=13), now_ms=clock) as sim:
        (binding,) = bind_accounts(sim)
        account = binding.account
        step(sim, clock, 10, 1_000)
        orders = _grow_open_orders(sim, clock, account, 4)
        async with producer(sim, settings, redis_client, binding, clock) as p:
            await p.cycle(source=Source.RECONCILE)
            assert await bus_differences(sim, redis_client, settings, binding, ORDERS) == []
            for _ in range(3):  # the cursors move on, far past the orders' creation
                clock.advance(2 * HOUR_MS)
                await p.cycle()
        created = max(o.created_ms for o in orders)
        cursor = await redis_client.get(f"{settings.stream_prefix}cursor:{binding.ref.ex_id}")
        assert cursor is not None and int(cursor) > created + 4 * HOUR_MS
        _while_down(sim, clock, account, orders[:4])
        assert await bus_differences(sim, redis_client, settings, binding, ORDERS) != []
        async with producer(sim, settings, redis_client, binding, clock) as p:

            async def resolved() -> None:
                assert await bus_differences(sim, redis_client, settings, binding, ORDERS) == []

            await until(resolved, lambda: p.cycle(source=Source.RECONCILE), rounds=3)
        book = await OpenOrderBook(redis_client, prefix=settings.stream_prefix).get(binding.ref.ex_id)
        assert set(book) == {o.order_id for o in sim.ledger.open_orders(account)}


_UNKNOWN_IDS = {
    "kraken": "OAAAAA-BBBBB-CCCCCC",
    "bybit": "00000000-0000-4000-8000-000000000000",
    "hyperliquid": "99999999999",
}


@pytest.mark.parametrize("venue", ["kraken", "bybit", "hyperliquid"])
async def test_an_order_the_venue_does_not_know_or_a_bad_entry_is_kept_and_never_given_a_status(
    venue: str, settings: Settings, redis_client: aioredis.Redis
) -> None:
    clock = Clock(wall_ms() - DAY_MS)
    async with Simulator(ScenarioConfig(venues=(venue,), accounts_per_venue=1, seed=17), now_ms=clock) as sim:
        (binding,) = bind_accounts(sim)
        step(sim, clock, 10, 1_000)
        symbol = sim.world.markets[venue][0].symbol
        ghost = _UNKNOWN_IDS[venue]
        key = f"{settings.stream_prefix}open_orders:{binding.ref.ex_id}"
        await redis_client.hset(key, ghost, f'{{"symbol":"{symbol}","created_ms":{clock.ms - HOUR_MS}}}')
        await redis_client.hset(key, "not-an-order-id", "not json")
        async with producer(sim, settings, redis_client, binding, clock) as p:
            await p.cycle(source=Source.RECONCILE)
            await p.cycle(("orders",))
        kept = await OpenOrderBook(redis_client, prefix=settings.stream_prefix).get(binding.ref.ex_id)
        assert {ghost, "not-an-order-id"} <= set(kept)
        published = {
            e.payload.ex_order_id
            for e in await read_bus(redis_client, settings.stream_prefix)
            if isinstance(e.payload, OrderUpdate)
        }
        assert not {ghost, "not-an-order-id"} & published
        assert await bus_differences(sim, redis_client, settings, binding, ORDERS) == []


async def test_an_order_seen_open_only_over_websocket_is_resolved_after_restart(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    """Bybit streams its orders: an order the stream showed open and that was canceled while the
    producer was down is in no REST read the restart makes, yet its final state reaches the bus."""
    clock = Clock(wall_ms() - DAY_MS)
    async with Simulator(
        ScenarioConfig(venues=("bybit",), accounts_per_venue=1, seed=19), now_ms=clock
    ) as sim:
        (binding,) = bind_accounts(sim)
        account = binding.account
        book = OpenOrderBook(redis_client, prefix=settings.stream_prefix)
        ctx = make_context(sim, settings, redis_client, [binding])
        collector = LiveAccountCollector(context=ctx)
        await collector.start_exchange(binding.ref)
        try:
            # an order placed before the venue has the subscribe would never be streamed
            await sim.world.subscriptions.wait(account, {"order"}, timeout_s=60)
            seen: set[str] = set()
            for _ in range(30):
                clock.advance(1_000)
                if not sim.engine._actions.place_limit(account):
                    sim.ledger.cancel(account, sim.ledger.open_orders(account)[0])
                    continue
                newest = max(sim.ledger.open_orders(account), key=lambda o: o.created_ms)

                async def tracked(order_id: str = newest.order_id) -> None:
                    assert order_id in await book.get(binding.ref.ex_id)

                try:
                    await eventually(tracked, timeout_s=30)
                except AssertionError:
                    continue
                seen.add(newest.order_id)
                if len(seen) >= 2:
                    break
            assert len(seen) >= 2, "the stream never reported an order"
        finally:
            await collector.stop_collection()
            await ctx.close()
        clock.advance(4 * HOUR_MS)
        async with producer(sim, settings, redis_client, binding, clock) as p:
            await p.cycle(("fills",))
        for order in [o for o in sim.ledger.open_orders(account) if o.order_id in seen]:
            clock.advance(HOUR_MS)
            sim.ledger.cancel(account, order)
        async with producer(sim, settings, redis_client, binding, clock) as p:

            async def resolved() -> None:
                assert await bus_differences(sim, redis_client, settings, binding, ORDERS) == []

            await until(resolved, lambda: p.cycle(source=Source.RECONCILE), rounds=3)
        assert not seen & set(await book.get(binding.ref.ex_id))
