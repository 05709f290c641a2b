"""What an operator or a Kubernetes probe needs to know: is data flowing and fresh?

Read-only: it looks at ProcessCache, the consumer groups of every stream, the dead-letter stream
and the per-account freshness the cache sink records; it never joins a group or writes a key.

Unhealthy (``healthy=False``) means data is not reaching storage:
- a consumer group has work (lag or pending entries) and none of its consumers has been active
  for ``stall_after_s``: the sink stopped consuming;
- a sink consumer reports it is waiting on an error (the database refuses every write, a store is
  unreachable; see ``bus.sink_status``): the problem names its group and the reason;
- a group's lag exceeds ``max_lag``;
- an account's cached balances are older than ``max_age_s`` (when given);
- an account's producer has not reported for ``silent_after_s``: each writes its accounts' process
  records at least every 30 s (``producers.heartbeat``) and marks them stopped when it stops, so
  a record left running and not updated is a producer killed, stuck or cut off from Redis. Only
  the newest record of an account counts (another producer may have taken the account over), and
  a record lives ``DATA_TTL_S`` (a day): a producer dead longer than that is no longer seen;
- a balance change is not explained (added by the ``health`` command, which reads the database:
  ``cli.health.add_explanations``).
Everything else worth a look (dead letters, processes in error, a sink's
error record it stopped refreshing) is a warning, so one account with bad keys never fails a
probe. Dead letters beyond ``dlq_warn`` set ``dead_letters_over``: data flows, but someone has
to look (``exit_code`` 3).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import redis.asyncio as aioredis

from fullon_account_service.bus.sink_status import read_sink_errors
from fullon_account_service.bus.streams import dead_letter_key, event_streams, parse_id
from fullon_account_service.contract import KINDS
from fullon_account_service.storage.account_cache import AccountCache
from fullon_account_service.storage.process_cache import DATA_TTL_S, ProcessCache, iso_epoch

STALE_PROCESS_S = 300.0
SILENT_PRODUCER_S = 120.0
"""Four of a producer's 30 s reports missed: a loaded producer's late report is not a silent one."""


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
    dead_letters_over: bool = False
    sink_errors: list[dict[str, Any]] = field(default_factory=list)
    freshness_s: dict[str, float] = field(default_factory=dict)
    processes: list[dict[str, Any]] = field(default_factory=list)
    balance_explained: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per ex_id: windows judged, windows waiting, and per currency the largest remainder."""

    def fail(self, problem: str) -> None:
        self.healthy = False
        self.problems.append(problem)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def exit_code(self) -> int:
        """1: data is not reaching storage; 3: it is, but the dead letters need a look; else 0."""
        if not self.healthy:
            return 1
        return 3 if self.dead_letters_over else 0


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


async def read_groups(redis: aioredis.Redis, prefix: str, partitions: int) -> list[GroupState]:
    """Every consumer group of every event stream (each partition on its own): what a probe and
    the metrics poller both read. ``partitions`` has no default: a reader that looked at fewer
    partitions than the producers write would see the others' backlog as drained."""
    states: list[GroupState] = []
    for stream in event_streams(prefix, KINDS, partitions):
        states.extend(await _groups(redis, stream))
    return states


async def collect_health(
    redis: aioredis.Redis,
    prefix: str,
    *,
    stall_after_s: float = 60.0,
    max_lag: int = 100_000,
    max_age_s: float | None = None,
    dlq_warn: int = 0,
    now: float | None = None,
    partitions: int = 1,
    silent_after_s: float = SILENT_PRODUCER_S,
) -> HealthReport:
    """``dlq_warn`` > 0: more dead letters than that set ``dead_letters_over``."""
    now = time.time() if now is None else now
    report = HealthReport()
    report.groups = await read_groups(redis, prefix, partitions)
    for g in report.groups:
        has_work = g.lag > 0 or g.pending > 0
        if has_work and (g.idle_ms is None or g.idle_ms > stall_after_s * 1000):
            report.fail(
                f"group {g.group} on {g.stream} has {g.lag} waiting, {g.pending} pending"
                " and no active consumer"
            )
        if g.lag > max_lag:
            report.fail(f"group {g.group} on {g.stream} lags by {g.lag} entries (> {max_lag})")

    await _sink_errors(redis, prefix, report, now)
    await _dead_letters(redis, prefix, report, dlq_warn, now)

    cache = AccountCache(redis)
    for ex_id in await cache.get_all_accounts():
        written = await cache.get_freshness(int(ex_id))
        if written is None:
            continue
        age = now - written
        report.freshness_s[ex_id] = round(age, 3)
        if max_age_s is not None and age > max_age_s:
            report.fail(f"account {ex_id} balances are {age:.0f} s old (> {max_age_s:.0f} s)")

    await _producers(redis, report, now, silent_after_s)
    return report


async def _producers(redis: aioredis.Redis, report: HealthReport, now: float, silent_after_s: float) -> None:
    """Each account's newest process record: in error (a warning) or silent (a problem)."""
    records = await ProcessCache(redis, clock=lambda: now).get_active_processes(
        process_type="account", since_minutes=DATA_TTL_S / 60
    )
    newest: dict[str, dict[str, Any]] = {}
    for record in records:  # newest first
        newest.setdefault(str(record.get("component")), record)
    report.processes = list(newest.values())
    for component, p in newest.items():
        silent_s = now - iso_epoch(str(p.get("updated_at", "")))
        if silent_s > silent_after_s:
            report.fail(
                f"{component}: its producer has not reported for {silent_s:.0f} s"
                f" (> {silent_after_s:.0f} s; last: {p.get('status')}: {p.get('message')})"
            )
        elif p.get("status") == "error":
            report.warnings.append(f"{component}: {p.get('message')}")


async def _sink_errors(redis: aioredis.Redis, prefix: str, report: HealthReport, now: float) -> None:
    report.sink_errors = await read_sink_errors(redis, prefix)
    for record in report.sink_errors:
        since_s = now - int(record.get("since_ms", 0)) / 1000
        seen_s = now - int(record.get("updated_ms", 0)) / 1000
        who = f"sink group {record.get('group')} (consumer {record.get('consumer')})"
        if seen_s <= STALE_PROCESS_S:
            report.fail(f"{who} is waiting since {since_s:.0f} s: {record.get('reason')}")
        else:
            report.warnings.append(
                f"{who} last reported an error {seen_s:.0f} s ago and has not since: {record.get('reason')}"
            )


async def _dead_letters(
    redis: aioredis.Redis, prefix: str, report: HealthReport, dlq_warn: int, now: float
) -> None:
    key = dead_letter_key(prefix)
    report.dead_letters = int(await redis.xlen(key))
    if not report.dead_letters:
        return
    newest = await redis.xrevrange(key, count=1)
    age = f", the newest {now - parse_id(_text(newest[0][0]))[0] / 1000:.0f} s old" if newest else ""
    report.warnings.append(
        f"{report.dead_letters} entries in the dead-letter stream{age} (see `fullon-account dlq list`)"
    )
    if dlq_warn and report.dead_letters > dlq_warn:
        report.dead_letters_over = True
        report.warnings.append(
            f"the dead-letter stream holds more than {dlq_warn} letters (ACCOUNT_DLQ_WARN):"
            " replay or drop them"
        )
