"""Trimming that never drops an entry a consumer group still needs.

Redis 7 can cap a stream by length or by minimum id, but neither knows about groups. So the safe
point is computed from the groups themselves: for each group, its oldest pending entry (read but
not acknowledged), or if nothing is pending the first entry after its last-delivered id (not read
yet). Everything below the lowest of those has been acknowledged by every group and can go.

A stream without groups is never trimmed: nobody has said what they still need. With ``retain``,
a stream is left alone until it holds more than that many entries, so ``tail --from`` has some
history to show; then everything every group acknowledged goes at once.
Known window: a group created with a start id below the safe point while a trim is in flight can
miss the trimmed entries; groups are created once at consumer start-up, before any trim.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis import exceptions as rex

from fullon_account_service.bus.redis_errors import REDIS_ERRORS, translate
from fullon_account_service.bus.streams import next_id, parse_id


async def safe_trim_point(redis: aioredis.Redis, stream: str) -> str | None:
    """The lowest id some group still needs, or None when nothing may be trimmed."""
    try:
        groups = await redis.xinfo_groups(stream)
    except rex.ResponseError:
        return None  # no such stream
    if not groups:
        return None
    needed: list[str] = []
    for group in groups:
        if group["pending"]:
            summary = await redis.xpending(stream, group["name"])
            if summary["min"] is None:
                return None
            needed.append(summary["min"].decode())
        else:
            needed.append(next_id(group["last-delivered-id"].decode()))
    return min(needed, key=parse_id)


async def trim_acknowledged(redis: aioredis.Redis, stream: str, *, retain: int = 0) -> int:
    """XTRIM MINID to the safe point; how many entries were removed."""
    try:
        if retain and await redis.xlen(stream) <= retain:
            return 0
        point = await safe_trim_point(redis, stream)
        if point is None:
            return 0
        removed: int = await redis.xtrim(stream, minid=point, approximate=False)
    except REDIS_ERRORS as e:
        raise translate(e, "trim") from e
    return removed
