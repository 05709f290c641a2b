"""Per-account history cursors in Redis: the exchange time up to which a history reached the bus.

Key ``{prefix}cursor:{ex_id}`` for fills, ``{prefix}order_cursor:{ex_id}`` for closed orders
(``named``), value the time in ms. A cursor only moves forward, and only after the rows before it
were published, so a producer that dies or loses Redis starts again from a point whose rows are
all on the bus. Rows are re-read from ``cursor - overlap`` (a venue may list a fill a little after
its timestamp); the duplicates this yields carry the same event id.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis import exceptions as rex

from fullon_account_service.bus.redis_errors import translate


def cursor_key(prefix: str, ex_id: int, name: str = "cursor") -> str:
    return f"{prefix}{name}:{ex_id}"


class CursorStore:
    def __init__(self, redis: aioredis.Redis, *, prefix: str, name: str = "cursor") -> None:
        self._redis = redis
        self._prefix = prefix
        self._name = name

    def named(self, name: str) -> CursorStore:
        """Another history's cursors on the same Redis (``order_cursor``: closed orders)."""
        return CursorStore(self._redis, prefix=self._prefix, name=name)

    async def get(self, ex_id: int) -> int | None:
        try:
            raw = await self._redis.get(cursor_key(self._prefix, ex_id, self._name))
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
            await self._redis.set(cursor_key(self._prefix, ex_id, self._name), str(time_ms))
        except rex.RedisError as e:
            raise translate(e, "cursor write") from e
        return time_ms

    async def delete(self, ex_id: int) -> None:
        try:
            await self._redis.delete(cursor_key(self._prefix, ex_id, self._name))
        except rex.RedisError as e:
            raise translate(e, "cursor delete") from e
