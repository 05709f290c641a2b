"""Reading several streams at once on a Redis Cluster, where one command cannot span slots.

XREADGROUP and XREAD take many streams in one call, and on one node that call is all a consumer
needs: it blocks until any of them has entries. On a cluster the streams are split into groups
that share a slot (a partition's kinds share a hash tag, see ``bus.streams``), one read per group.
Those reads go out side by side without blocking first; only when all came back empty do they go
out again blocking. The blocking reads end one by one, each when its own streams get entries or at
the block time: an idle consumer's first entry after a quiet spell can wait up to that block time
for the others to end. Under load nothing blocks and nothing waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from redis.crc import key_slot

from fullon_account_service.redis_client import is_cluster

T = TypeVar("T")


def slot_groups(redis: object, streams: Sequence[str]) -> list[tuple[str, ...]]:
    """``streams`` split into groups one command may read: everything together on a single node,
    per hash slot on a cluster (each group in the order given)."""
    if not is_cluster(redis):
        return [tuple(streams)] if streams else []
    groups: dict[int, list[str]] = {}
    for stream in streams:
        groups.setdefault(key_slot(stream.encode()), []).append(stream)
    return [tuple(group) for group in groups.values()]


async def read_spread(
    groups: Sequence[tuple[str, ...]],
    read: Callable[[tuple[str, ...], int | None], Coroutine[Any, Any, list[T]]],
    block_ms: int | None,
) -> list[T]:
    """``read(group, block_ms)`` for every group, the results joined in group order.

    One group is read as asked. Several are first read without blocking; if all are empty and
    ``block_ms`` asks to wait, they are read again, blocking, side by side.
    """
    if len(groups) == 1:
        return await read(groups[0], block_ms)
    found = await _all(groups, read, None)
    if found or not block_ms:
        return found
    return await _all(groups, read, block_ms)


async def _all(
    groups: Sequence[tuple[str, ...]],
    read: Callable[[tuple[str, ...], int | None], Coroutine[Any, Any, list[T]]],
    block_ms: int | None,
) -> list[T]:
    """Every read to its end, even when one fails (none is left running unowned); then the first
    failure is raised as itself (callers handle a ``RedisError``, not a group of them)."""
    done = await asyncio.gather(*(read(group, block_ms) for group in groups), return_exceptions=True)
    for result in done:
        if isinstance(result, BaseException):
            raise result
    return [item for result in done if not isinstance(result, BaseException) for item in result]
