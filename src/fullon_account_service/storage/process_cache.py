"""ProcessCache: health records of running processes, in fullon_cache's layout.

- STRING ``process:data:{process_id}``: JSON ``{process_id, process_type, component, params,
  status, message, created_at, updated_at, heartbeat}`` (ISO UTC), TTL 86400 s renewed on update;
- HASH ``process:active:{process_type}``: ``process_id`` -> ISO time of the last update;
- HASH ``process:components``: ``component`` -> ``process_id``.

``process_id`` is ``"{type}:{component}:{epoch float}"``. An account's component is
``account:{venue}:{ex_id}`` (``account_component``): fullon's health check finds account processes
by ``"account" in component.lower()``, and the ex_id keeps one component per account. A process not
updated for ``since_minutes`` (5 by default) is stale and left out of ``get_active_processes``;
fullon's convention is at most one update per 30 s per item, which callers keep. Each write is one
pipeline, a MULTI on a single node; on a Redis Cluster these fullon names share no slot, so there
it is a plain pipeline (a crash can leave a record without its index entry, which readers skip, or
an index entry without its record, which ``get_active_processes`` removes). Redis failures raise
``TransientError`` / ``FatalError``.

Leased accounts register with their lease's fencing token (``register_process(..., token=)``): the
one entry two owners of an account share, ``process:components[component]``, is then written by a
script that keeps the highest token per component in ``{process:components}:fence`` (same hash
slot) and refuses an older one (``StaleLeaseError``), so an old owner that resumes cannot point
the component back at its own process.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec
import redis.asyncio as aioredis

from fullon_account_service.bus.redis_errors import REDIS_ERRORS, translate
from fullon_account_service.errors import StaleLeaseError
from fullon_account_service.redis_client import is_cluster
from fullon_account_service.storage.redis_calls import awaited
from fullon_account_service.storage.redis_holder import RedisHolder

DATA_TTL_S = 86_400
COMPONENTS_KEY = "process:components"
COMPONENT_FENCE_KEY = "{process:components}:fence"
_ACTIVE_PREFIX = "process:active:"

_decoder = msgspec.json.Decoder(dict[str, Any])


class ProcessStatus(enum.StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    PROCESSING = "processing"
    IDLE = "idle"
    ERROR = "error"
    STOPPED = "stopped"


def account_component(venue: str, ex_id: int) -> str:
    return f"account:{venue}:{ex_id}"


def data_key(process_id: str) -> str:
    return f"process:data:{process_id}"


def active_key(process_type: str) -> str:
    return f"{_ACTIVE_PREFIX}{process_type}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class ProcessCache(RedisHolder):
    def __init__(
        self, redis: aioredis.Redis | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(redis)
        self._clock = clock
        self._atomic = not is_cluster(self._redis)

    def _iso(self, epoch_s: float) -> str:
        return datetime.fromtimestamp(epoch_s, UTC).isoformat()

    async def register_process(
        self,
        process_type: str,
        component: str,
        params: Mapping[str, Any] | None = None,
        message: str | None = None,
        status: str = ProcessStatus.STARTING,
        *,
        token: int | None = None,
    ) -> str:
        now = self._clock()
        stamp = self._iso(now)
        process_type = str(process_type)
        process_id = f"{process_type}:{component}:{now}"
        data = {
            "process_id": process_id,
            "process_type": process_type,
            "component": component,
            "params": dict(params or {}),
            "status": ProcessStatus(status).value,
            "message": message or f"Process {component} registered",
            "created_at": stamp,
            "updated_at": stamp,
            "heartbeat": stamp,
        }
        if token is not None:
            await self._link_fenced(component, process_id, token)
        pipe = self._redis.pipeline(transaction=self._atomic)
        pipe.set(data_key(process_id), msgspec.json.encode(data), ex=DATA_TTL_S)
        pipe.hset(active_key(process_type), process_id, stamp)
        if token is None:
            pipe.hset(COMPONENTS_KEY, component, process_id)
        await self._execute(pipe, "register process")
        return process_id

    async def _link_fenced(self, component: str, process_id: str, token: int) -> None:
        args = [COMPONENTS_KEY, COMPONENT_FENCE_KEY, component, process_id, str(token)]
        try:
            linked = await awaited(self._redis.eval(_LINK_FENCED, 2, *args))
        except REDIS_ERRORS as e:
            raise translate(e, "register process") from e
        if not int(linked):
            raise StaleLeaseError(f"{component}: lease token {token} is older than the registered one")

    async def get_process(self, process_id: str) -> dict[str, Any] | None:
        try:
            raw = await self._redis.get(data_key(process_id))
        except REDIS_ERRORS as e:
            raise translate(e, "get process") from e
        return None if raw is None else _decoder.decode(raw)

    async def update_process(
        self,
        process_id: str,
        status: str | None = None,
        message: str | None = None,
        params: Mapping[str, Any] | None = None,
        heartbeat: bool = True,
    ) -> bool:
        """``False`` if the process is unknown (never registered, or its record expired)."""
        data = await self.get_process(process_id)
        if data is None:
            return False
        stamp = self._iso(self._clock())
        data["updated_at"] = stamp
        if heartbeat:
            data["heartbeat"] = stamp
        if status is not None:
            data["status"] = ProcessStatus(status).value
        if message is not None:
            data["message"] = message
        if params:
            data["params"] = {**data.get("params", {}), **params}
        pipe = self._redis.pipeline(transaction=self._atomic)
        pipe.set(data_key(process_id), msgspec.json.encode(data), ex=DATA_TTL_S)
        if data["status"] != ProcessStatus.STOPPED:
            pipe.hset(active_key(data["process_type"]), process_id, stamp)
        await self._execute(pipe, "update process")
        return True

    async def stop_process(self, process_id: str, message: str | None = None) -> bool:
        """Mark stopped (the record stays until its TTL) and drop it from the active indexes."""
        data = await self.get_process(process_id)
        if data is None:
            return False
        await self.update_process(
            process_id, ProcessStatus.STOPPED, message or "Process stopped", heartbeat=False
        )
        pipe = self._redis.pipeline(transaction=self._atomic)
        pipe.hdel(active_key(data["process_type"]), process_id)
        await self._execute(pipe, "stop process")
        try:
            await awaited(
                self._redis.eval(_UNLINK_COMPONENT, 1, COMPONENTS_KEY, data["component"], process_id)
            )
        except REDIS_ERRORS as e:
            raise translate(e, "stop process") from e
        return True

    async def get_active_processes(
        self, process_type: str | None = None, component: str | None = None, since_minutes: float = 5
    ) -> list[dict[str, Any]]:
        """Processes updated within ``since_minutes``, newest first, each with ``_heartbeat_stale``.

        Index entries whose record has expired are removed on the way.
        """
        cutoff = self._clock() - since_minutes * 60.0
        try:
            keys = (
                [active_key(str(process_type))]
                if process_type is not None
                else sorted({_text(k) async for k in self._redis.scan_iter(match=f"{_ACTIVE_PREFIX}*")})
            )
            found: list[dict[str, Any]] = []
            for key in keys:
                found += await self._active_in(key, cutoff, component)
        except REDIS_ERRORS as e:
            raise translate(e, "get active processes") from e
        found.sort(key=lambda p: str(p.get("updated_at", "")), reverse=True)
        return found

    async def _active_in(self, key: str, cutoff: float, component: str | None) -> list[dict[str, Any]]:
        index: dict[bytes | str, bytes | str] = await awaited(self._redis.hgetall(key))
        recent = [_text(pid) for pid, stamp in index.items() if iso_epoch(_text(stamp)) >= cutoff]
        if not recent:
            return []
        pipe = self._redis.pipeline(transaction=False)  # one GET per key: they span slots on a cluster
        for pid in recent:
            pipe.get(data_key(pid))
        raws: list[bytes | None] = await pipe.execute()
        found, expired = [], []
        for pid, raw in zip(recent, raws, strict=True):
            if raw is None:
                expired.append(pid)
                continue
            data = _decoder.decode(raw)
            if component is not None and data.get("component") != component:
                continue
            data["_heartbeat_stale"] = iso_epoch(str(data.get("heartbeat", ""))) < cutoff
            found.append(data)
        if expired:
            await awaited(self._redis.hdel(key, *expired))
        return found

    async def _execute(self, pipe: Any, action: str) -> None:
        try:
            await pipe.execute()
        except REDIS_ERRORS as e:
            raise translate(e, action) from e


_LINK_FENCED = """
local newest = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if tonumber(ARGV[3]) < newest then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""
"""Point ``component`` at ``process_id`` unless a newer lease token registered it."""

_UNLINK_COMPONENT = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
"""
"""Drop ``component -> process_id`` only if a newer process of that component has not replaced it."""


def iso_epoch(iso: str) -> float:
    """A record's ISO time as epoch seconds; unreadable: minus infinity (older than anything)."""
    try:
        stamp = datetime.fromisoformat(iso)
    except ValueError:
        return float("-inf")
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()
