"""The chaos run's own reads of the bus see every partition: with 3, an entry still waiting in an
account's partition keeps the run from calling the pipeline drained, and its events are counted."""

from __future__ import annotations

import redis.asyncio as aioredis

from chaos_streams import drained, events_published
from factories import envelope, fill
from fullon_account_service.bus import Publisher

PARTITIONS = 3
PREFIX = "chaos-test:"


async def test_an_entry_in_a_partition_is_seen_until_stored(redis_client: aioredis.Redis) -> None:
    publisher = Publisher(redis_client, prefix=PREFIX, partitions=PARTITIONS)
    stream = publisher.key("trade", 5)
    await redis_client.xgroup_create(stream, "orm", id="0", mkstream=True)
    await publisher.publish([envelope(fill("t-1"), ex_id=5), envelope(fill("t-2"), ex_id=6)])

    assert await events_published(redis_client, PREFIX, PARTITIONS) == 2
    assert await events_published(redis_client, PREFIX, 1) == 0, "the plain streams hold nothing"
    assert not await drained(redis_client, PREFIX, PARTITIONS)
    assert await drained(redis_client, PREFIX, 1)
    [(_, [(entry_id, _)])] = await redis_client.xreadgroup("orm", "c", {stream: ">"})
    assert not await drained(redis_client, PREFIX, PARTITIONS)  # pending
    await redis_client.xack(stream, "orm", entry_id)
    assert await drained(redis_client, PREFIX, PARTITIONS)
