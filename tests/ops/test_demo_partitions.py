"""The demo's settling waits on every partition: with ``ACCOUNT_STREAM_PARTITIONS`` = 3 the
producers write none of the plain streams, so a look at those alone would call the books drained
(and compare them) while a partition still has entries on their way."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import redis.asyncio as aioredis

from factories import envelope, fill
from fullon_account_service.bus import Publisher
from fullon_account_service.demo.settle import Settler
from fullon_account_service.settings import Settings
from fullon_account_service.verify.compare import BooksComparison

PARTITIONS = 3


def _settler(redis: aioredis.Redis, prefix: str, partitions: int) -> Settler:
    async def verify() -> BooksComparison:
        return BooksComparison()

    context: Any = SimpleNamespace(outbox=SimpleNamespace(pending=0), registry={})
    return Settler(
        context=context,
        cycles=dict,
        ex_ids=[4],
        redis=redis,
        prefix=prefix,
        partitions=partitions,
        verify=verify,
    )


async def test_drained_only_once_every_partition_is_stored(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    prefix = settings.stream_prefix
    publisher = Publisher(redis_client, prefix=prefix, partitions=PARTITIONS)
    stream = publisher.key("trade", 4)
    await redis_client.xgroup_create(stream, "orm", id="0", mkstream=True)
    await publisher.publish([envelope(fill("t-1"), ex_id=4)])
    settler = _settler(redis_client, prefix, PARTITIONS)

    assert not await settler.drained()  # undelivered
    [(_, [(entry_id, _)])] = await redis_client.xreadgroup("orm", "demo-orm", {stream: ">"})
    assert not await settler.drained()  # pending
    assert await _settler(redis_client, prefix, 1).drained(), "the plain streams hold nothing"
    await redis_client.xack(stream, "orm", entry_id)
    assert await settler.drained()
