"""Conditional writes of JSON documents kept one per field of a Redis hash.

Every write goes through one Lua script, so each of these holds atomically per field, even with
several sink consumers writing the same ``ex_id`` at once:

- **latest wins by exchange time**: a write carrying ``exchange_ms`` older than the one stored in
  ``<hash>:exchange_ms`` is skipped (equal is written: a replay is harmless);
- **compare-and-set** for merges: a partial update is merged with the document read a moment
  before and written only if that document is still the stored one; otherwise it is re-read and
  merged again (JSON is merged in Python, since Redis' cjson rounds floats to 14 digits);
- **freshness**: ``<hash>:freshness`` holds the writer's clock (epoch seconds) of the last write,
  so a reader can tell a dead producer's data from live data. The data hashes keep no TTL:
  fullon readers expect the fields to be there.

Writes of a batch travel in one pipeline.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rex

from fullon_account_service.bus.redis_errors import translate
from fullon_account_service.errors import TransientError
from fullon_account_service.storage.cache_shapes import decode, encode
from fullon_account_service.storage.redis_calls import awaited

WRITTEN, STALE, CONFLICT = 1, 0, -1
MAX_ATTEMPTS = 10

_SCRIPT = """
local field, value, version, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if version ~= '' then
  local stored = redis.call('HGET', KEYS[2], field)
  if stored and tonumber(stored) > tonumber(version) then return 0 end
end
local mode = ARGV[5]
if mode ~= 'any' then
  local current = redis.call('HGET', KEYS[1], field)
  if mode == 'absent' then
    if current then return -1 end
  elseif current ~= ARGV[6] then
    return -1
  end
end
if value == '' then
  redis.call('HDEL', KEYS[1], field)
else
  redis.call('HSET', KEYS[1], field, value)
end
if version ~= '' then redis.call('HSET', KEYS[2], field, version) end
redis.call('HSET', KEYS[3], field, now)
return 1
"""

Document = dict[str, Any]
Build = Callable[[Document | None], Document | None]
"""Stored document (``None``: absent) -> document to store (``None``: delete the field)."""


def freshness_key(key: str) -> str:
    return f"{key}:freshness"


def version_key(key: str) -> str:
    return f"{key}:exchange_ms"


class VersionedHash:
    def __init__(self, redis: aioredis.Redis, key: str, *, clock: Callable[[], float]) -> None:
        self._redis = redis
        self._keys = [key, version_key(key), freshness_key(key)]
        self._script = redis.register_script(_SCRIPT)
        self._clock = clock

    @property
    def key(self) -> str:
        return self._keys[0]

    async def write_many(
        self,
        builds: Mapping[int, Build],
        *,
        exchange_ms: Mapping[int, int | None] | None = None,
        merge: bool = False,
    ) -> dict[int, bool]:
        """Write each ``ex_id``'s document; ``True`` if written, ``False`` if skipped as stale.

        With ``merge`` each build receives the stored document and the write is a
        compare-and-set, retried on conflict; without, builds receive ``None`` and overwrite.
        """
        versions = exchange_ms or {}
        outcome: dict[int, bool] = {}
        pending = dict(builds)
        for attempt in range(MAX_ATTEMPTS):
            if not pending:
                return outcome
            if attempt:
                # Jitter, so writers that collided do not collide again in lockstep.
                await asyncio.sleep(random.uniform(0.0, 0.001 * 2**attempt))
            stored = await self._read(list(pending)) if merge else {}
            results = await self._attempt(pending, stored, versions, merge)
            for ex_id, result in results.items():
                if result != CONFLICT:
                    outcome[ex_id] = result == WRITTEN
            pending = {ex_id: pending[ex_id] for ex_id, r in results.items() if r == CONFLICT}
        if pending:
            raise TransientError(f"{self.key}: concurrent writers kept changing ex_ids {sorted(pending)}")
        return outcome

    async def _read(self, ex_ids: list[int]) -> dict[int, bytes | None]:
        try:
            raw: list[bytes | None] = await awaited(self._redis.hmget(self.key, [str(i) for i in ex_ids]))
        except rex.RedisError as e:
            raise translate(e, f"read {self.key}") from e
        return dict(zip(ex_ids, raw, strict=True))

    async def _attempt(
        self,
        builds: Mapping[int, Build],
        stored: Mapping[int, bytes | None],
        versions: Mapping[int, int | None],
        merge: bool,
    ) -> dict[int, int]:
        now = repr(self._clock())
        pipe = self._redis.pipeline(transaction=False)
        for ex_id, build in builds.items():
            current = stored.get(ex_id)
            document = build(decode(current) if merge else None)
            version = versions.get(ex_id)
            args: list[str | bytes] = [
                str(ex_id),
                b"" if document is None else encode(document),
                "" if version is None else str(version),
                now,
            ]
            if not merge:
                args += ["any", ""]
            elif current is None:
                args += ["absent", ""]
            else:
                args += ["equal", current]
            await self._script(keys=self._keys, args=args, client=pipe)
        try:
            results: list[int] = await pipe.execute()
        except rex.RedisError as e:
            raise translate(e, f"write {self.key}") from e
        return dict(zip(builds, (int(r) for r in results), strict=True))

    async def freshness(self, ex_id: int) -> float | None:
        try:
            raw = await awaited(self._redis.hget(self._keys[2], str(ex_id)))
        except rex.RedisError as e:
            raise translate(e, f"read {self._keys[2]}") from e
        return None if raw is None else float(raw)

    async def get(self, ex_id: int) -> Document | None:
        try:
            raw = await awaited(self._redis.hget(self.key, str(ex_id)))
        except rex.RedisError as e:
            raise translate(e, f"read {self.key}") from e
        return decode(raw)

    async def get_all(self) -> dict[str, Document]:
        try:
            raw: dict[bytes | str, bytes] = await awaited(self._redis.hgetall(self.key))
        except rex.RedisError as e:
            raise translate(e, f"read {self.key}") from e
        documents: dict[str, Document] = {}
        for field, value in raw.items():
            document = decode(value)
            if document is not None:
                documents[field.decode() if isinstance(field, bytes) else field] = document
        return documents
