"""What an operator or a Kubernetes probe needs to know: is data flowing and fresh?

Read-only: it looks at ProcessCache, the consumer groups of every stream, the dead-letter stream
and the per-account freshness the cache sink records; it never joins a group or writes a key.

Unhealthy (``healthy=False``) means data is not reaching storage:
- a consumer group has work (lag or pending entries) and none of its consumers has been active
  for ``stall_after_s``: the sink stopped consuming;
- a group's lag exceeds ``max_lag``;
- an account's cached balances are older than ``max_age_s`` (when given).
Everything else worth a look (dead letters, processes in error, stale process entries) is a
warning and leaves the exit code alone, so one account with bad keys never fails a probe.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import redis.asyncio as aioredis

from fullon_account_service.bus.streams import dead_letter_key, stream_key
from fullon_account_service.contract import KINDS
from fullon_account_service.storage.account_cache import AccountCache
from fullon_account_service.storage.process_cache import ProcessCache

STALE_PROCESS_S = 300.0


@dataclass(frozen=True, slots=True)
class GroupState:
    stream: str
    group: str
    consumers: int
    lag: int
    pending: int
    idle_ms: int | None


@dataclass(slots=True)
class HealthReport:
    healthy: bool = True
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    groups: list[GroupState] = field(default_factory=list)
    dead_letters: int = 0
    freshness_s: dict[str, float] = field(default_factory=dict)
    processes: list[dict[str, Any]] = field(default_factory=list)

    def fail(self, problem: str) -> None:
        self.healthy = False
        self.problems.append(problem)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def _groups(redis: aioredis.Redis, stream: str) -> list[GroupState]:
    if not await redis.exists(stream):
        return []
    states = []
    for info in await redis.xinfo_groups(stream):
        name = _text(info["name"])
        consumers = await redis.xinfo_consumers(stream, name)
        idle = min((int(c.get("inactive", c["idle"])) for c in consumers), default=None)
        lag = info.get("lag")
        states.append(
            GroupState(
                stream=stream,
                group=name,
                consumers=len(consumers),
                lag=int(lag) if lag is not None else 0,
                pending=int(info["pending"]),
                idle_ms=idle,
            )
        )
    return states


async def read_groups(redis: aioredis.Redis, prefix: str) -> list[GroupState]:
    """Every consumer group of every event stream: what a probe and the metrics poller both read."""
    states: list[GroupState] = []
    for kind in KINDS:
        states.extend(await _groups(redis, stream_key(prefix, kind)))
    return states


async def collect_health(
    redis: aioredis.Redis,
    prefix: str,
    *,
    stall_after_s: float = 60.0,
    max_lag: int = 100_000,
    max_age_s: float | None = None,
    now: float | None = None,
) -> HealthReport:
    now = time.time() if now is None else now
    report = HealthReport()
    report.groups = await read_groups(redis, prefix)
    for g in report.groups:
        has_work = g.lag > 0 or g.pending > 0
        if has_work and (g.idle_ms is None or g.idle_ms > stall_after_s * 1000):
            report.fail(
                f"group {g.group} on {g.stream} has {g.lag} waiting, {g.pending} pending"
                " and no active consumer"
            )
        if g.lag > max_lag:
            report.fail(f"group {g.group} on {g.stream} lags by {g.lag} entries (> {max_lag})")

    report.dead_letters = int(await redis.xlen(dead_letter_key(prefix)))
    if report.dead_letters:
        report.warnings.append(f"{report.dead_letters} entries in the dead-letter stream (see `tail --dlq`)")

    cache = AccountCache(redis)
    for ex_id in await cache.get_all_accounts():
        written = await cache.get_freshness(int(ex_id))
        if written is None:
            continue
        age = now - written
        report.freshness_s[ex_id] = round(age, 3)
        if max_age_s is not None and age > max_age_s:
            report.fail(f"account {ex_id} balances are {age:.0f} s old (> {max_age_s:.0f} s)")

    report.processes = await ProcessCache(redis).get_active_processes(
        process_type="account", since_minutes=60
    )
    for p in report.processes:
        if p.get("status") == "error":
            report.warnings.append(f"{p.get('component')}: {p.get('message')}")
    return report
