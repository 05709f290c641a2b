"""A consumer reading ahead: the next batch is read and prepared while the handler stores this one, and
nothing else changes: batches in stream order, each acknowledged only after its handler returned,
a store outage holds what was read ahead too, and stopping finishes the batch read ahead."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
import redis.asyncio as aioredis
from bus_samples import sample_envelope

from fullon_account_service.bus import Consumer, Delivery, Handler, Prepare, Publisher, stream_key
from fullon_account_service.errors import TransientError

DEADLINE_S = 60.0


def event_ids(batch: Sequence[Delivery]) -> list[str]:
    return [delivery.envelope.event_id for delivery in batch]


class Store:
    """A handler that records each batch with what was still pending when it was called, and
    can be made to fail its first calls as a store outage."""

    def __init__(self, redis: aioredis.Redis, stream: str, *, outages: int = 0) -> None:
        self.redis, self.stream, self.outages = redis, stream, outages
        self.batches: list[list[str]] = []
        self.pending_at_call: list[set[str]] = []
        self.prepared: list[Sequence[Delivery]] = []
        self.handed: list[Sequence[Delivery]] = []

    async def prepare(self, batch: Sequence[Delivery]) -> None:
        self.prepared.append(batch)

    async def handle(self, batch: Sequence[Delivery]) -> None:
        self.handed.append(batch)
        pending = await self.redis.xpending_range(self.stream, "g", "-", "+", 100)
        self.pending_at_call.append({entry["message_id"].decode() for entry in pending})
        if self.outages:
            self.outages -= 1
            raise TransientError("database down")
        self.batches.append(event_ids(batch))


def reader(
    redis: aioredis.Redis, prefix: str, handler: Handler, prepare: Prepare | None, claim_idle_ms: int = 30_000
) -> Consumer:
    return Consumer(
        redis,
        read_ahead=True,
        prefix=prefix,
        group="g",
        consumer="c",
        kinds=["trade"],
        handler=handler,
        prepare=prepare,
        batch_size=5,
        block_ms=50,
        claim_idle_ms=claim_idle_ms,
    )


async def test_batches_in_order_each_acknowledged_after_its_store(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    envelopes = [sample_envelope(i) for i in range(13)]
    await Publisher(redis_client, prefix=prefix).publish(envelopes)
    stream = stream_key(prefix, "trade")
    store = Store(redis_client, stream)
    consumer = reader(redis_client, prefix, store.handle, store.prepare)
    await consumer.ensure_groups()
    assert [await consumer.run_once() for _ in range(4)] == [5, 5, 3, 0]
    assert store.batches == [[e.event_id for e in envelopes[i : i + 5]] for i in (0, 5, 10)]
    # Each batch is pending while it is stored, and the one before it is acknowledged by then.
    for i, (batch, pending) in enumerate(zip(store.handed, store.pending_at_call, strict=True)):
        assert {d.entry_id for d in batch} <= pending
        assert not i or not {d.entry_id for d in store.handed[i - 1]} & pending
    assert (await redis_client.xpending(stream, "g"))["pending"] == 0
    # Each batch read ahead was prepared, and the handler got that very list.
    assert all(any(p is h for p in store.prepared) for h in store.handed[1:])


async def test_a_store_slower_than_the_claim_timeout_gets_each_entry_once(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    """The batch read ahead waits in hand while the store runs: idle past ``claim_idle_ms``, it
    was claimed again by the next read ahead of the very consumer holding it, handled twice and
    counted a second delivery (poison sooner than ``max_deliveries`` says)."""
    envelopes = [sample_envelope(i) for i in range(15)]
    await Publisher(redis_client, prefix=prefix).publish(envelopes)
    handed: list[Sequence[Delivery]] = []

    async def slow(batch: Sequence[Delivery]) -> None:
        handed.append(batch)
        await asyncio.sleep(0.2)  # the slow store under test: four claim timeouts

    consumer = reader(redis_client, prefix, slow, None, claim_idle_ms=50)
    await consumer.ensure_groups()
    assert [await consumer.run_once() for _ in range(4)] == [5, 5, 5, 0]
    assert [event_ids(batch) for batch in handed] == [
        [e.event_id for e in envelopes[i : i + 5]] for i in (0, 5, 10)
    ]
    assert {d.deliveries for batch in handed for d in batch} == {1}


async def test_the_next_batch_is_prepared_while_this_one_is_stored(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    await Publisher(redis_client, prefix=prefix).publish([sample_envelope(i) for i in range(10)])
    prepared = asyncio.Event()

    async def prepare(batch: Sequence[Delivery]) -> None:
        prepared.set()

    async def handle(batch: Sequence[Delivery]) -> None:
        if not prepared.is_set():  # the first batch waits for the second to be prepared
            await asyncio.wait_for(prepared.wait(), DEADLINE_S)

    consumer = reader(redis_client, prefix, handle, prepare)
    await consumer.ensure_groups()
    assert await consumer.run_once() == 5
    assert await consumer.run_once() == 5


async def test_an_outage_holds_the_batch_read_ahead_too(redis_client: aioredis.Redis, prefix: str) -> None:
    envelopes = [sample_envelope(i) for i in range(12)]
    await Publisher(redis_client, prefix=prefix).publish(envelopes)
    stream = stream_key(prefix, "trade")
    store = Store(redis_client, stream, outages=2)
    consumer = reader(redis_client, prefix, store.handle, store.prepare)
    await consumer.ensure_groups()
    for _ in range(2):
        try:
            await consumer.run_once()
        except TransientError:
            pass
        else:
            raise AssertionError("the store was down")
    # Held: the first batch and the one read ahead; no third batch was read while waiting.
    assert consumer.holding == 10
    assert (await redis_client.xpending(stream, "g"))["pending"] == 10
    assert await consumer.run_once() == 10
    assert store.batches == [[e.event_id for e in envelopes[:10]]]
    assert await consumer.run_once() == 2
    assert (await redis_client.xpending(stream, "g"))["pending"] == 0


async def test_stopping_stores_the_batch_read_ahead(redis_client: aioredis.Redis, prefix: str) -> None:
    envelopes = [sample_envelope(i) for i in range(10)]
    await Publisher(redis_client, prefix=prefix).publish(envelopes)
    stream = stream_key(prefix, "trade")
    stop = asyncio.Event()
    stored: list[list[str]] = []

    async def handle(batch: Sequence[Delivery]) -> None:
        stored.append(event_ids(batch))
        stop.set()  # stop after the first batch: the second is read ahead by then

    consumer = reader(redis_client, prefix, handle, None)
    await asyncio.wait_for(consumer.run(stop), DEADLINE_S)
    assert sum(map(len, stored)) == 10
    assert (await redis_client.xpending(stream, "g"))["pending"] == 0


def test_prepare_needs_read_ahead(redis_client: aioredis.Redis, prefix: str) -> None:
    """A hook that would never be called is refused, not ignored."""
    store = Store(redis_client, stream_key(prefix, "trade"))
    with pytest.raises(ValueError, match="read_ahead"):
        Consumer(
            redis_client,
            prefix=prefix,
            group="g",
            consumer="c",
            kinds=["trade"],
            handler=store.handle,
            prepare=store.prepare,
        )
