"""The set of orders last seen open: it survives a restart, forgets an order only with its final
state, and a Redis outage never stops the stream that reports an order."""

from __future__ import annotations

import fakeredis
import redis.asyncio as aioredis

import factories
from fullon_account_service.contract import Envelope, OrderStatus
from fullon_account_service.errors import AccountServiceError
from fullon_account_service.producers.open_orders import OpenOrderBook, TrackedOrder

PREFIX = "test:account:"


def order(order_id: str, status: OrderStatus, created_ms: int = 1_700_000_000_000) -> Envelope:
    payload = factories.order(order_id, symbol="BTC/USD", status=status, created_ms=created_ms)
    return factories.envelope(payload, ex_id=4, exchange_ms=created_ms, eid=f"{order_id}-{status}")


async def test_open_orders_survive_a_restart_and_leave_with_their_final_state(
    redis_client: aioredis.Redis,
) -> None:
    book = OpenOrderBook(redis_client, prefix=PREFIX)
    await book.track(
        4, [order("A", OrderStatus.OPEN), order("B", OrderStatus.OPEN), order("C", OrderStatus.CLOSED)]
    )
    restarted = OpenOrderBook(redis_client, prefix=PREFIX)
    assert await restarted.get(4) == {
        "A": TrackedOrder("BTC/USD", 1_700_000_000_000),
        "B": TrackedOrder("BTC/USD", 1_700_000_000_000),
    }
    await book.track(4, [order("A", OrderStatus.CANCELED)])
    assert set(await restarted.get(4)) == {"A", "B"}, "a stream's final state is not on the bus yet"
    await restarted.settle(
        4, [order("A", OrderStatus.OPEN), order("A", OrderStatus.CANCELED), order("D", OrderStatus.OPEN)]
    )
    assert set(await restarted.get(4)) == {"B", "D"}
    assert await restarted.get(5) == {}


async def test_a_redis_outage_keeps_stream_orders_in_memory_until_it_answers() -> None:
    server = fakeredis.FakeServer()
    redis = fakeredis.FakeAsyncRedis(server=server)
    book = OpenOrderBook(redis, prefix=PREFIX)
    server.connected = False
    await book.track(4, [order("A", OrderStatus.OPEN)])
    try:
        await book.get(4)
    except AccountServiceError:
        pass
    else:
        raise AssertionError("a read with Redis away must fail with our error")
    server.connected = True
    assert set(await book.get(4)) == {"A"}
    assert set(await OpenOrderBook(redis, prefix=PREFIX).get(4)) == set(), "not written yet"
    await book.track(4, [order("B", OrderStatus.OPEN)])
    assert set(await OpenOrderBook(redis, prefix=PREFIX).get(4)) == {"A", "B"}
    await redis.aclose()
