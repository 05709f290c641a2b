"""Per-account fill cursor in Redis: the exchange time up to which fills have reached the bus.

Key ``{prefix}cursor:{ex_id}``, value the time in ms. It only moves forward, and only after the
fills up to it were published, so a producer that dies or loses Redis starts again from a point
whose fills are all on the bus. Fills are re-read from ``cursor - overlap`` (a venue may list a
fill a little after its timestamp); the duplicates this yields carry the same event id.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis import exceptions as rex

from fullon_account_service.bus.redis_errors import translate


def cursor_key(prefix: str, ex_id: int) -> str:
    return f"{prefix}cursor:{ex_id}"


class CursorStore:
    def __init__(self, redis: aioredis.Redis, *, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    async def get(self, ex_id: int) -> int | None:
        try:
            raw = await self._redis.get(cursor_key(self._prefix, ex_id))
        except rex.RedisError as e:
            raise translate(e, "cursor read") from e
        return int(raw) if raw is not None else None

    async def advance(self, ex_id: int, time_ms: int) -> int:
        """Move the cursor to ``time_ms`` unless it is already past it; the resulting value.

        One producer owns an account at a time (shards by ex_id), so read-compare-write is enough.
        """
        current = await self.get(ex_id)
        if current is not None and current >= time_ms:
            return current
        try:
            await self._redis.set(cursor_key(self._prefix, ex_id), str(time_ms))
        except rex.RedisError as e:
            raise translate(e, "cursor write") from e
        return time_ms

    async def delete(self, ex_id: int) -> None:
        try:
            await self._redis.delete(cursor_key(self._prefix, ex_id))
        except rex.RedisError as e:
            raise translate(e, "cursor delete") from e
