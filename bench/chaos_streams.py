"""What a chaos run reads of the bus itself: whether every group has stored everything, and how
many events were published. Both look at every partition of every kind
(``ACCOUNT_STREAM_PARTITIONS`` of the run): with more than one, the plain streams are written by
nobody, and a look at them alone would call the pipeline drained at once."""

from __future__ import annotations

import contextlib

import redis.asyncio as aioredis
from redis import exceptions as rex

from fullon_account_service.bus.streams import event_streams
from fullon_account_service.contract import KINDS
from fullon_account_service.health import read_groups


async def drained(client: aioredis.Redis, prefix: str, partitions: int) -> bool:
    """No group of any stream has lag or pending entries."""
    groups = await read_groups(client, prefix, partitions)
    return all(g.lag == 0 and g.pending == 0 for g in groups)


async def events_published(client: aioredis.Redis, prefix: str, partitions: int) -> int:
    """Entries ever added to the event streams (trimmed ones included, where Redis counts them)."""
    total = 0
    for stream in event_streams(prefix, KINDS, partitions):
        with contextlib.suppress(rex.ResponseError):
            info = await client.xinfo_stream(stream)
            total += int(info.get("entries-added", info.get("length", 0)))
    return total
