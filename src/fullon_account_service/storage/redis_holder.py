"""The fullon habit both caches share: ``AccountCache()`` with no client builds one from the
environment and closes it on ``__aexit__``; a client passed in stays the caller's."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import redis.asyncio as aioredis

from fullon_account_service.redis_client import make_redis
from fullon_account_service.settings import Settings


class RedisHolder:
    def __init__(self, redis: aioredis.Redis | None) -> None:
        self._owned = redis is None
        self._redis: aioredis.Redis = make_redis(Settings.from_env()) if redis is None else redis

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._owned:
            await self._redis.aclose()
