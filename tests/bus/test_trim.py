"""Trimming never removes an entry some group has not acknowledged, nor one it has not read."""

from __future__ import annotations

import random

import redis.asyncio as aioredis
from bus_samples import Recorder, sample_envelope

from fullon_account_service.bus import Consumer, Publisher, stream_key, trim_acknowledged
from fullon_account_service.settings import Settings


async def setup(redis: aioredis.Redis, prefix: str, n: int, groups: tuple[str, ...]) -> tuple[str, list[str]]:
    stream = stream_key(prefix, "trade")
    for group in groups:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    ids = await Publisher(redis, prefix=prefix).publish([sample_envelope(i) for i in range(n)])
    return stream, ids


async def read(redis: aioredis.Redis, stream: str, group: str, count: int) -> list[str]:
    reply = await redis.xreadgroup(group, "c", {stream: ">"}, count=count)
    return [entry_id.decode() for _, items in reply for entry_id, _ in items]


async def remaining(redis: aioredis.Redis, stream: str) -> list[str]:
    return [entry_id.decode() for entry_id, _ in await redis.xrange(stream)]


async def test_stream_without_groups_is_never_trimmed(redis_client: aioredis.Redis, prefix: str) -> None:
    stream, ids = await setup(redis_client, prefix, 5, ())
    assert await trim_acknowledged(redis_client, stream) == 0
    assert await remaining(redis_client, stream) == ids
    assert await trim_acknowledged(redis_client, "no:such:stream") == 0


async def test_keeps_pending_and_unread(redis_client: aioredis.Redis, prefix: str) -> None:
    stream, ids = await setup(redis_client, prefix, 10, ("g",))
    assert await read(redis_client, stream, "g", 6) == ids[:6]
    await redis_client.xack(stream, "g", ids[0], ids[1], ids[3], ids[5])  # ids[2], ids[4] still pending
    assert await trim_acknowledged(redis_client, stream) == 2
    assert await remaining(redis_client, stream) == ids[2:]


async def test_trims_everything_acknowledged(redis_client: aioredis.Redis, prefix: str) -> None:
    stream, ids = await setup(redis_client, prefix, 8, ("g",))
    await redis_client.xack(stream, "g", *await read(redis_client, stream, "g", 5))
    assert await trim_acknowledged(redis_client, stream) == 5
    assert await remaining(redis_client, stream) == ids[5:]  # unread ones stay
    await redis_client.xack(stream, "g", *await read(redis_client, stream, "g", 5))
    assert await trim_acknowledged(redis_client, stream) == 3
    assert await remaining(redis_client, stream) == []
    # The group goes on working on what comes next.
    [new_id] = await Publisher(redis_client, prefix=prefix).publish([sample_envelope(99)])
    assert await read(redis_client, stream, "g", 5) == [new_id]


async def test_slowest_group_decides(redis_client: aioredis.Redis, prefix: str) -> None:
    stream, ids = await setup(redis_client, prefix, 6, ("fast", "slow"))
    await redis_client.xack(stream, "fast", *await read(redis_client, stream, "fast", 6))
    assert await trim_acknowledged(redis_client, stream) == 0
    await redis_client.xack(stream, "slow", *await read(redis_client, stream, "slow", 2))
    assert await trim_acknowledged(redis_client, stream) == 2
    assert await remaining(redis_client, stream) == ids[2:]


async def test_random_acks_never_lose_a_needed_entry(redis_client: aioredis.Redis, prefix: str) -> None:
    seed = random.randrange(1 << 30)
    print(f"seed={seed}")  # noqa: T201 - printed so a failure can be replayed
    rng = random.Random(seed)
    groups = ("a", "b", "c")
    stream, ids = await setup(redis_client, prefix, 60, groups)
    unacked = {group: set(ids) for group in groups}
    for _ in range(8):
        for group in groups:
            got = await read(redis_client, stream, group, rng.randrange(1, 12))
            acked = [entry_id for entry_id in got if rng.random() < 0.7]
            # ...and sometimes an older pending one
            older = sorted(unacked[group] - set(got))[:3]
            acked += [entry_id for entry_id in older if rng.random() < 0.3]
            if acked:
                await redis_client.xack(stream, group, *acked)
                unacked[group] -= set(acked)
        await trim_acknowledged(redis_client, stream)
        needed = set().union(*unacked.values())
        assert needed <= set(await remaining(redis_client, stream)), f"seed={seed}"


async def test_consumer_run_trims_as_it_goes(redis_client: aioredis.Redis, settings: Settings) -> None:
    prefix = settings.stream_prefix
    handler = Recorder()
    consumer = Consumer(
        redis_client, prefix=prefix, group="g", consumer="c", kinds=["trade"], handler=handler, block_ms=20
    )
    await consumer.ensure_groups()
    await Publisher(redis_client, prefix=prefix).publish([sample_envelope(i) for i in range(7)])
    assert await consumer.run_once() == 7
    assert await consumer.trim() == 7
    assert await redis_client.xlen(stream_key(prefix, "trade")) == 0


async def test_retain_keeps_acknowledged_history_until_the_stream_outgrows_it(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    stream, ids = await setup(redis_client, prefix, 6, ("g",))
    await redis_client.xack(stream, "g", *await read(redis_client, stream, "g", 4))
    assert await trim_acknowledged(redis_client, stream, retain=6) == 0
    assert await remaining(redis_client, stream) == ids
    assert await trim_acknowledged(redis_client, stream, retain=5) == 4
    assert await remaining(redis_client, stream) == ids[4:]
