"""A sink started with ``ACCOUNT_STREAM_PARTITIONS`` reads every partition its producers write."""

from __future__ import annotations

import asyncio
import dataclasses

import redis.asyncio as aioredis

from factories import balance, envelope
from fullon_account_service.bus import Publisher
from fullon_account_service.settings import Settings
from fullon_account_service.sinks.runner import run_sink
from fullon_account_service.storage import AccountCache
from sink_samples import Db

PARTITIONS = 2  # the two known accounts (ex_id 1 and 2) land on partitions 1 and 0
DEADLINE_S = 60.0


async def test_cache_sink_reads_every_partition(
    redis_client: aioredis.Redis, settings: Settings, db: Db
) -> None:
    settings = dataclasses.replace(settings, stream_partitions=PARTITIONS)
    ex_ids = (1, 2)
    events = [envelope(balance(total=10.0 * ex_id, free=10.0 * ex_id), ex_id=ex_id) for ex_id in ex_ids]
    await Publisher(redis_client, prefix=settings.stream_prefix, partitions=PARTITIONS).publish(events)
    cache = AccountCache(redis_client)
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(run_sink(settings, "cache", "c1", redis_client, stop, session_factory=db.factory))
        async with asyncio.timeout(DEADLINE_S):
            while len(await cache.get_all_accounts()) < len(ex_ids):
                await asyncio.sleep(0.05)
        stop.set()
    stored = await cache.get_all_accounts()
    assert sorted(int(ex_id) for ex_id in stored) == list(ex_ids)
    assert await redis_client.xlen(f"{settings.stream_prefix}dead") == 0
