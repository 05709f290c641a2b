"""Leases in Redis: which producer owns an API key, with a fencing token, and who is in the pool.

Keys (every one carries a hash tag, so each script touches a single Redis Cluster slot):

- ``{prefix}lease:{<lease_id>}``: STRING, the owner's id, set with ``SET NX PX`` and renewed by its
  owner only; it expires ``ttl`` after the last renewal, so a dead owner loses it by itself.
- ``{prefix}lease:{<lease_id>}:token``: the fencing counter, ``INCR``-ed in the same script every
  time the lease changes hands; never expires, so a token is never handed out twice. The taker
  passes a floor, the highest token its accounts' cursors hold, and the counter jumps above it:
  after a credential rotation (a new API key, so a new lease with a fresh counter) the new tenure
  still outranks the old key's, and the account resumes from its cursors.
- ``{prefix}pool:{producers}``: ZSET of live producers, score = Redis time (ms) at which the
  member's heartbeat expires; each heartbeat prunes the expired ones.

redis-py's ``redis.asyncio.lock.Lock`` has the same ``SET NX PX`` plus owner-checked extend and
release, but its token is a random string, not a number that grows with every change of owner, so
a storage cannot tell an old owner's write from a new one's. These three small scripts add that
counter in the same atomic step, and use Redis' clock for the pool so hosts need not agree on time.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

from fullon_account_service.bus.redis_errors import REDIS_ERRORS, translate
from fullon_account_service.redis_client import is_cluster
from fullon_account_service.storage.redis_calls import Script

_ACQUIRE = """
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(redis.call('GET', KEYS[2]) or '0')
end
if owner then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
local token = redis.call('INCR', KEYS[2])
local floor = tonumber(ARGV[3])
if token <= floor then
  token = floor + 1
  redis.call('SET', KEYS[2], token)
end
return token
"""
"""Take the lease if free (a new token, above ARGV[3]), or extend it if already ours (the current
token); 0 if another producer holds it."""

_RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return tonumber(redis.call('GET', KEYS[2]) or '0')
"""
"""Extend the lease only while we still hold it; 0 when it lapsed or changed hands."""

_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
"""

_JOIN = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if tonumber(ARGV[2]) > 0 then
  redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[2]), ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""
"""Renew (or with a TTL of 0 leave) our pool membership; the live members, ours included."""

T = TypeVar("T")

CLUSTER_CONCURRENCY = 32
"""Renewals in flight at once on a cluster: a connection each, so bounded."""


def lease_id(venue: str, api_key: str) -> str:
    """A stable, non-secret name for an API key: accounts sharing a key share one lease."""
    return hashlib.blake2b(f"{venue}\0{api_key}".encode(), digest_size=10).hexdigest()


def lease_key(prefix: str, lease: str) -> str:
    return f"{prefix}lease:{{{lease}}}"


def token_key(prefix: str, lease: str) -> str:
    return f"{lease_key(prefix, lease)}:token"


def pool_key(prefix: str) -> str:
    return f"{prefix}pool:{{producers}}"


@dataclass(frozen=True, slots=True)
class Held:
    lease: str
    token: int


class LeaseStore:
    """The scripts above, bound to one Redis and one owner id; Redis errors become ours."""

    def __init__(self, redis: aioredis.Redis, *, prefix: str, owner: str, ttl_s: float) -> None:
        self._redis = redis
        self._prefix = prefix
        self.owner = owner
        self._ttl_s = ttl_s
        self._ttl_ms = max(int(ttl_s * 1000), 1)
        self._acquire = Script(redis, _ACQUIRE)
        self._renew = Script(redis, _RENEW)
        self._release = Script(redis, _RELEASE)
        self._join = Script(redis, _JOIN)

    def on(self, redis: aioredis.Redis) -> LeaseStore:
        """The same owner's leases through another client (the renewal thread's own)."""
        return LeaseStore(redis, prefix=self._prefix, owner=self.owner, ttl_s=self._ttl_s)

    def _keys(self, lease: str) -> list[str]:
        return [lease_key(self._prefix, lease), token_key(self._prefix, lease)]

    async def acquire(self, lease: str, *, above: int = 0) -> Held | None:
        """Ours now (with its token, a new one greater than ``above``), or ``None`` while another
        producer holds it."""
        args = [self.owner, self._ttl_ms, above]
        token = int(await self._call(self._acquire, self._keys(lease), args, "acquire"))
        return Held(lease, token) if token else None

    async def renew(self, lease: str) -> Held | None:
        """Still ours for another TTL, or ``None``: lost (lapsed, or taken by another)."""
        token = int(await self._call(self._renew, self._keys(lease), [self.owner, self._ttl_ms], "renew"))
        return Held(lease, token) if token else None

    async def renew_all(self, leases: Sequence[str]) -> dict[str, Held | None]:
        """``renew`` for many leases at once, so that renewing a hundred keys costs about one
        wait on a busy event loop, not a hundred in a row: one non-transactional pipeline on a
        single Redis; on a cluster (whose client refuses scripts in a pipeline) concurrent calls,
        ``CLUSTER_CONCURRENCY`` at a time. A lease missing from the answer was not confirmed (its
        call failed): the caller treats it as a failed renewal."""
        if not leases:
            return {}
        if is_cluster(self._redis):
            answers = await self._renew_concurrently(leases)
        else:
            answers = await self._renew_pipeline(leases)
            if any(isinstance(a, NoScriptError) for a in answers):
                await self._translated(self._renew.load(again=True), "script load")
                answers = await self._renew_pipeline(leases)
        return {
            lease: Held(lease, int(answer)) if int(answer) else None
            for lease, answer in zip(leases, answers, strict=True)
            if not isinstance(answer, BaseException)
        }

    async def _renew_pipeline(self, leases: Sequence[str]) -> list[Any]:
        return await self._translated(self._send_renewals(leases), "renew")

    async def _send_renewals(self, leases: Sequence[str]) -> list[Any]:
        await self._renew.load()
        async with self._redis.pipeline(transaction=False) as pipe:
            for lease in leases:
                self._renew.queue(pipe, self._keys(lease), [self.owner, self._ttl_ms])
            return list(await pipe.execute(raise_on_error=False))

    async def _renew_concurrently(self, leases: Sequence[str]) -> list[Any]:
        answers: list[Any] = []
        for start in range(0, len(leases), CLUSTER_CONCURRENCY):
            chunk = leases[start : start + CLUSTER_CONCURRENCY]
            calls = (self._renew(self._keys(lease), [self.owner, self._ttl_ms]) for lease in chunk)
            answers += await asyncio.gather(*calls, return_exceptions=True)
        return answers

    async def release(self, lease: str) -> None:
        """Give the lease up if still ours, so another producer may take it at once."""
        await self._call(self._release, [lease_key(self._prefix, lease)], [self.owner], "release")

    async def holder(self, lease: str) -> str | None:
        raw = await self._translated(self._redis.get(lease_key(self._prefix, lease)), "read")
        return raw.decode() if isinstance(raw, bytes) else raw

    async def join(self, *, leave: bool = False) -> list[str]:
        """Heartbeat in the pool (or leave it); the ids of the live producers."""
        ttl = 0 if leave else self._ttl_ms
        members = await self._call(self._join, [pool_key(self._prefix)], [self.owner, ttl], "pool heartbeat")
        return [m.decode() if isinstance(m, bytes) else str(m) for m in members]

    async def _call(self, script: Script, keys: list[str], args: list[Any], what: str) -> Any:
        return await self._translated(script(keys, args), what)

    @staticmethod
    async def _translated(call: Awaitable[T], what: str) -> T:
        """``call``'s answer; a Redis error becomes ours (the module's one translation)."""
        try:
            return await call
        except REDIS_ERRORS as e:
            raise translate(e, f"lease {what}") from e
