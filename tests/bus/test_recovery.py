"""A consumer that dies between read and ack: its entries are claimed and processed exactly once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import redis.asyncio as aioredis
from bus_samples import Recorder, mixed

from fullon_account_service.bus import Consumer, Delivery, Publisher, stream_key
from fullon_account_service.contract import KINDS
from fullon_account_service.settings import Settings


def sink(redis: aioredis.Redis, settings: Settings, name: str, handler: Recorder) -> Consumer:
    return Consumer(
        redis,
        prefix=settings.stream_prefix,
        group="sink",
        consumer=name,
        kinds=KINDS,
        handler=handler,
        block_ms=20,
        claim_idle_ms=settings.claim_idle_ms,
    )


async def pending(redis: aioredis.Redis, prefix: str) -> int:
    return sum([(await redis.xpending(stream_key(prefix, k), "sink"))["pending"] for k in KINDS])


async def test_killed_consumer_entries_processed_once(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    prefix = settings.stream_prefix
    envelopes = mixed(9)
    handler = Recorder()
    b = sink(redis_client, settings, "b", handler)
    await b.ensure_groups()
    await Publisher(redis_client, prefix=prefix).publish(envelopes)
    # Consumer "a" reads everything, then dies before acknowledging anything.
    idle_s = settings.claim_idle_ms / 1000
    read_at = time.monotonic()  # before Redis delivered: every idle time counts from later
    read = [  # one stream per read: the kinds' streams lie on different slots of a cluster
        reply
        for k in KINDS
        for reply in await redis_client.xreadgroup("sink", "a", {stream_key(prefix, k): ">"}, count=100)
    ]
    assert sum(len(items) for _, items in read) == 9
    assert await pending(redis_client, prefix) == 9

    claimed = await b.run_once()
    if time.monotonic() - read_at < idle_s:  # the whole round ran before any entry was idle enough
        assert claimed == 0  # a might still be working
    async with asyncio.timeout(30):
        while sum(handler.handled.values()) < 9:
            await b.run_once()
    assert time.monotonic() - read_at >= idle_s * 0.9
    assert handler.handled == {e.event_id: 1 for e in envelopes}
    assert all(d.deliveries == 2 for d in handler.deliveries)
    assert await pending(redis_client, prefix) == 0

    # A third consumer arriving later finds nothing left to do.
    late = Recorder()
    c = sink(redis_client, settings, "c", late)
    await asyncio.sleep(settings.claim_idle_ms / 1000 * 1.5)
    assert await c.run_once() == 0
    assert await b.run_once() == 0
    assert not late.handled


async def test_cancelled_mid_handler_leaves_entries_pending(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    prefix = settings.stream_prefix
    entered, never = asyncio.Event(), asyncio.Event()

    async def stuck(batch: Sequence[Delivery]) -> None:
        entered.set()
        await never.wait()

    a = Consumer(
        redis_client, prefix=prefix, group="sink", consumer="a", kinds=KINDS, handler=stuck, block_ms=20
    )
    await a.ensure_groups()
    envelopes = mixed(4)
    await Publisher(redis_client, prefix=prefix).publish(envelopes)
    task = asyncio.create_task(a.run_once(), name="stuck-consumer")
    async with asyncio.timeout(60):
        await entered.wait()
    task.cancel()
    async with asyncio.timeout(60):
        await asyncio.gather(task, return_exceptions=True)
    assert await pending(redis_client, prefix) == 4

    handler = Recorder()
    b = sink(redis_client, settings, "b", handler)
    async with asyncio.timeout(60):
        while sum(handler.handled.values()) < 4:
            await b.run_once()
    assert handler.handled == {e.event_id: 1 for e in envelopes}
    assert await pending(redis_client, prefix) == 0
