"""Where a consumer that cannot go on says why, so ``health`` can name the group and the reason.

A consumer waiting on an error (the database refuses every write, Redis or the database is
unreachable, a Redis error reply) keeps a STRING ``{prefix}sink:{group}:{consumer}`` holding JSON
``{group, consumer, status: "error", reason, since_ms, updated_ms}``, rewritten every round it
waits (at most every few seconds) with a TTL of ``TTL_S``, and deletes it once it consumes again
or stops. A record whose ``updated_ms`` is old belongs to a consumer that died while stuck.

Writing or deleting the record must never be what stops the consumer: when Redis itself is the
problem (down, a cluster mid-failover) the write fails too, and that failure is logged and dropped
(the error is in the log either way). A record left behind because its delete failed, on a
consumer that then stopped, expires after ``TTL_S``; one that consumes again retries the delete
every round until it lands.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import msgspec
import redis.asyncio as aioredis

from fullon_account_service.bus.redis_errors import REDIS_ERRORS
from fullon_account_service.logs import get_logger
from fullon_account_service.redaction import redact_text

log = get_logger("bus")

TTL_S = 3_600
MAX_REASON_CHARS = 1_000

_decoder = msgspec.json.Decoder(dict[str, Any])


def status_key(prefix: str, group: str, consumer: str) -> str:
    return f"{prefix}sink:{group}:{consumer}"


class SinkStatus:
    """The error record of one consumer; cheap when healthy (nothing is written)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        prefix: str,
        group: str,
        consumer: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._key = status_key(prefix, group, consumer)
        self._group = group
        self._consumer = consumer
        self._clock = clock
        self._since_ms: int | None = None

    async def error(self, reason: str) -> None:
        now_ms = int(self._clock() * 1000)
        if self._since_ms is None:
            self._since_ms = now_ms
        record = {
            "group": self._group,
            "consumer": self._consumer,
            "status": "error",
            "reason": redact_text(reason)[:MAX_REASON_CHARS],
            "since_ms": self._since_ms,
            "updated_ms": now_ms,
        }
        try:
            await self._redis.set(self._key, msgspec.json.encode(record), ex=TTL_S)
        except (*REDIS_ERRORS, OSError) as e:
            log.warning("could not record the sink's error state", key=self._key, error=repr(e))

    async def clear(self) -> None:
        if self._since_ms is None:
            return
        try:
            await self._redis.delete(self._key)
        except (*REDIS_ERRORS, OSError) as e:
            log.warning("could not clear the sink's error state", key=self._key, error=repr(e))
            return
        self._since_ms = None


async def read_sink_errors(redis: aioredis.Redis, prefix: str) -> list[dict[str, Any]]:
    """Every consumer's error record under ``prefix``, oldest first."""
    records = []
    async for key in redis.scan_iter(match=f"{prefix}sink:*", count=500):
        raw = await redis.get(key)
        if raw is None:
            continue
        try:
            records.append(_decoder.decode(raw))
        except msgspec.DecodeError:
            continue
    return sorted(records, key=lambda r: int(r.get("since_ms", 0)))
