"""The set of orders last seen open: it survives a restart, forgets an order only with its final
state, and a Redis outage never stops the stream that reports an order.

A stream's orders go as the collector sends them: ``stage`` gives the write, which rides in the
outbox's pipeline ahead of the order's events (no round trip of its own)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import fakeredis
import pytest
import redis.asyncio as aioredis

import factories
from fake_clock import FakeClock
from fullon_account_service.bus.publisher import Publisher
from fullon_account_service.bus.streams import stream_key
from fullon_account_service.contract import Envelope, OrderStatus
from fullon_account_service.errors import AccountServiceError
from fullon_account_service.producers.open_orders import (
    REWRITE_AFTER_S,
    OpenOrderBook,
    TrackedOrder,
    open_orders_key,
)
from fullon_account_service.producers.outbox import Outbox
from retry_policies import QUICK

PREFIX = "test:account:"
DRAIN_S = 60.0


def order(order_id: str, status: OrderStatus, created_ms: int = 1_700_000_000_000) -> Envelope:
    payload = factories.order(order_id, symbol="BTC/USD", status=status, created_ms=created_ms)
    return factories.envelope(payload, ex_id=4, exchange_ms=created_ms, eid=f"{order_id}-{status}")


class _Stream:
    """What the live collector does with a stream's order update: stage, then queue the write
    ahead of the events."""

    def __init__(self, book: OpenOrderBook, redis: aioredis.Redis) -> None:
        self.book = book
        self.outbox = Outbox(Publisher(redis, prefix=PREFIX), redis, prefix=PREFIX, retry=QUICK)
        self.outbox.start()
        self.writes: list[frozenset[str]] = []

    async def update(self, envelopes: list[Envelope], *, wait: bool = True) -> None:
        write = self.book.stage(4, envelopes)
        if write is not None:
            self.writes.append(write.orders)
        await self.outbox.put(envelopes, (), () if write is None else (write,))
        if wait:
            assert await self.outbox.drain(DRAIN_S)


@pytest.fixture
async def fake() -> AsyncIterator[tuple[fakeredis.FakeServer, aioredis.Redis]]:
    server = fakeredis.FakeServer()
    redis = fakeredis.FakeAsyncRedis(server=server)
    yield server, redis
    await redis.aclose()


async def test_open_orders_survive_a_restart_and_leave_with_their_final_state(
    redis_client: aioredis.Redis,
) -> None:
    stream = _Stream(OpenOrderBook(redis_client, prefix=PREFIX), redis_client)
    await stream.update(
        [order("A", OrderStatus.OPEN), order("B", OrderStatus.OPEN), order("C", OrderStatus.CLOSED)]
    )
    restarted = OpenOrderBook(redis_client, prefix=PREFIX)
    assert await restarted.get(4) == {
        "A": TrackedOrder("BTC/USD", 1_700_000_000_000),
        "B": TrackedOrder("BTC/USD", 1_700_000_000_000),
    }
    await stream.update([order("A", OrderStatus.CANCELED)])
    assert set(await restarted.get(4)) == {"A", "B"}, "a stream's final state is not on the bus yet"
    await restarted.settle(
        4, [order("A", OrderStatus.OPEN), order("A", OrderStatus.CANCELED), order("D", OrderStatus.OPEN)]
    )
    assert set(await restarted.get(4)) == {"B", "D"}
    assert await restarted.get(5) == {}
    await stream.outbox.close()


async def test_the_write_goes_ahead_of_the_events_in_one_round_trip(redis_client: aioredis.Redis) -> None:
    """The order's record is in the hash once its event is on the bus, and nothing else was sent."""
    stream = _Stream(OpenOrderBook(redis_client, prefix=PREFIX), redis_client)
    await stream.update([order("A", OrderStatus.OPEN)])
    assert await redis_client.xlen(stream_key(PREFIX, "order")) == 1
    assert set(await OpenOrderBook(redis_client, prefix=PREFIX).get(4)) == {"A"}
    await stream.outbox.close()


async def test_a_redis_outage_keeps_stream_orders_until_it_answers(
    fake: tuple[fakeredis.FakeServer, aioredis.Redis],
) -> None:
    server, redis = fake
    book = OpenOrderBook(redis, prefix=PREFIX)
    stream = _Stream(book, redis)
    server.connected = False
    await stream.update([order("A", OrderStatus.OPEN)], wait=False)
    with pytest.raises(AccountServiceError):
        await book.get(4)
    server.connected = True
    assert set(await book.get(4)) == {"A"}, "staged or written: counted either way"
    assert await stream.outbox.drain(DRAIN_S), "the outbox writes it once Redis answers"
    assert set(await OpenOrderBook(redis, prefix=PREFIX).get(4)) == {"A"}
    await stream.update([order("B", OrderStatus.OPEN)])
    assert set(await OpenOrderBook(redis, prefix=PREFIX).get(4)) == {"A", "B"}
    await stream.outbox.close()


async def test_an_order_written_with_the_same_fields_is_not_written_again_for_a_while(
    redis_client: aioredis.Redis,
) -> None:
    """One Redis write per new or changed open order, not one per update; again after
    ``REWRITE_AFTER_S``, after it left with its final state, and after a failed write."""
    clock = FakeClock()
    book = OpenOrderBook(redis_client, prefix=PREFIX, clock=clock)
    stream = _Stream(book, redis_client)
    await stream.update([order("A", OrderStatus.OPEN)])
    await stream.update([order("A", OrderStatus.OPEN), order("B", OrderStatus.OPEN)])
    assert stream.writes == [{"A"}, {"B"}]
    await stream.update([order("A", OrderStatus.OPEN, created_ms=5)])
    assert stream.writes[-1] == {"A"} and len(stream.writes) == 3, "changed fields are written"
    clock.now += REWRITE_AFTER_S
    await stream.update([order("B", OrderStatus.OPEN)])
    assert stream.writes[-1] == {"B"} and len(stream.writes) == 4, "written again after a while"
    await book.settle(4, [order("B", OrderStatus.CLOSED)])
    await stream.update([order("B", OrderStatus.OPEN)])
    assert stream.writes[-1] == {"B"}, "an order that left is written again"
    assert set(await OpenOrderBook(redis_client, prefix=PREFIX).get(4)) == {"A", "B"}
    await stream.outbox.close()


async def test_an_update_staged_but_not_yet_written_is_not_staged_twice(redis_client: aioredis.Redis) -> None:
    book = OpenOrderBook(redis_client, prefix=PREFIX)
    assert book.stage(4, [order("A", OrderStatus.OPEN)]) is not None
    assert book.stage(4, [order("A", OrderStatus.OPEN)]) is None


async def test_a_failed_write_forgets_what_was_written(
    fake: tuple[fakeredis.FakeServer, aioredis.Redis],
) -> None:
    """Redis may have lost what it acknowledged before it failed: the next update writes again."""
    server, redis = fake
    stream = _Stream(OpenOrderBook(redis, prefix=PREFIX), redis)
    await stream.update([order("A", OrderStatus.OPEN)])
    server.connected = False
    await stream.update([order("B", OrderStatus.OPEN)], wait=False)
    assert await _failed_once(stream.outbox)
    server.connected = True
    assert await stream.outbox.drain(DRAIN_S)
    await redis.hdel(open_orders_key(PREFIX, 4), "A")  # the restarted Redis lost what it had
    await stream.update([order("A", OrderStatus.OPEN)])
    assert set(await OpenOrderBook(redis, prefix=PREFIX).get(4)) == {"A", "B"}
    await stream.outbox.close()


async def _failed_once(outbox: Outbox) -> bool:
    """Until the outbox saw a publish fail (``drain`` would wait for Redis to answer)."""
    async with asyncio.timeout(DRAIN_S):
        while not outbox.failures:
            await asyncio.sleep(0.01)
    return True
