"""The set of orders last seen open: it survives a restart, forgets an order only with its final
state, and a Redis outage never stops the stream that reports an order."""

from __future__ import annotations

import fakeredis
import redis.asyncio as aioredis

import factories
from fullon_account_service.contract import Envelope, OrderStatus
from fullon_account_service.errors import AccountServiceError
from fullon_account_service.producers.open_orders import (
    REWRITE_AFTER_S,
    OpenOrderBook,
    TrackedOrder,
    open_orders_key,
)

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


class _Clock:
    def __init__(self) -> None:
        self.s = 0.0

    def __call__(self) -> float:
        return self.s


async def test_an_order_written_with_the_same_fields_is_not_written_again_for_a_while(
    redis_client: aioredis.Redis,
) -> None:
    """One Redis write per new or changed open order, not one per update; again after
    ``REWRITE_AFTER_S``, after it left with its final state, and after a failed write."""
    clock = _Clock()
    book = OpenOrderBook(redis_client, prefix=PREFIX, clock=clock)
    writes: list[dict[str, bytes]] = []
    write = book._write

    async def counted(ex_id: int, mapping: dict[str, bytes], gone: list[str]) -> None:
        if mapping:
            writes.append(mapping)
        await write(ex_id, mapping, gone)

    book._write = counted  # type: ignore[method-assign]
    await book.track(4, [order("A", OrderStatus.OPEN)])
    await book.track(4, [order("A", OrderStatus.OPEN), order("B", OrderStatus.OPEN)])
    assert [set(w) for w in writes] == [{"A"}, {"B"}]
    await book.track(4, [order("A", OrderStatus.OPEN, created_ms=5)])
    assert set(writes[-1]) == {"A"} and len(writes) == 3, "changed fields are written"
    clock.s += REWRITE_AFTER_S
    await book.track(4, [order("B", OrderStatus.OPEN)])
    assert set(writes[-1]) == {"B"} and len(writes) == 4, "written again after a while"
    await book.settle(4, [order("B", OrderStatus.CLOSED)])
    await book.track(4, [order("B", OrderStatus.OPEN)])
    assert set(writes[-1]) == {"B"}, "an order that left is written again"
    assert set(await OpenOrderBook(redis_client, prefix=PREFIX).get(4)) == {"A", "B"}


async def test_a_failed_write_forgets_what_was_written() -> None:
    """Redis may have lost what it acknowledged before it failed: the next update writes again."""
    server = fakeredis.FakeServer()
    redis = fakeredis.FakeAsyncRedis(server=server)
    book = OpenOrderBook(redis, prefix=PREFIX)
    await book.track(4, [order("A", OrderStatus.OPEN)])
    server.connected = False
    await book.track(4, [order("B", OrderStatus.OPEN)])
    server.connected = True
    await redis.delete(open_orders_key(PREFIX, 4))  # the restarted Redis lost what it had
    await book.track(4, [order("A", OrderStatus.OPEN)])
    assert set(await OpenOrderBook(redis, prefix=PREFIX).get(4)) == {"A", "B"}
    await redis.aclose()
