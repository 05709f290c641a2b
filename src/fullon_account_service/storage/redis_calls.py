"""redis-py types hash and string commands as ``Awaitable[T] | T`` (one signature for the sync and
async clients); ``awaited`` narrows that to ``T`` on our async clients without a cast per call.
``Script``: a Lua script loaded before its first use, called alone or queued on a pipeline."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from typing import Any, TypeVar

import redis.asyncio as aioredis

T = TypeVar("T")


async def awaited(value: Awaitable[T] | T) -> T:
    if inspect.isawaitable(value):
        return await value
    return value


class Script:
    """A Lua script loaded with ``SCRIPT LOAD`` before its first ``EVALSHA``.

    redis-py's ``register_script`` alone sends ``EVALSHA``, and on ``NOSCRIPT`` loads the script
    and retries; that fallback still covers a server that forgot it (a restart), but the first
    call no longer depends on it, and fakeredis' TCP server (the suite's stand-in for a shared
    Redis) closes the connection after answering ``NOSCRIPT``."""

    def __init__(self, redis: aioredis.Redis, source: str) -> None:
        self._redis = redis
        self._script = redis.register_script(source)
        self._loaded = False

    async def __call__(self, keys: list[str], args: list[Any]) -> Any:
        await self.load()
        return await self._script(keys=keys, args=args)

    async def load(self, *, again: bool = False) -> None:
        """``SCRIPT LOAD`` once (``again``: the server forgot it), so that ``queue`` may send a
        bare ``EVALSHA``."""
        if again or not self._loaded:
            await self._redis.script_load(self._script.script)
            self._loaded = True

    def queue(self, pipe: aioredis.client.Pipeline, keys: list[str], args: list[Any]) -> None:
        """Add an ``EVALSHA`` to a non-transactional pipeline (after ``load``): many calls in one
        round trip, on a cluster too (each call's keys share a slot). A server that forgot the
        script answers ``NoScriptError`` in that call's place."""
        pipe.evalsha(self._script.sha, len(keys), *keys, *args)
