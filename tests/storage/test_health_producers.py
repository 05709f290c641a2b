"""``collect_health`` on the producers' process records: a producer that stopped reporting without
saying it stopped (killed, stuck, cut off from Redis) is a problem; one that stopped, or whose
account another producer took over, is not."""

from __future__ import annotations

import redis.asyncio as aioredis

from fake_clock import FakeClock
from fullon_account_service.health import SILENT_PRODUCER_S, collect_health
from fullon_account_service.storage import ProcessCache
from fullon_account_service.storage.process_cache import account_component

T0 = 1_700_000_000.0
PREFIX = "test:health:"


async def _register(redis: aioredis.Redis, clock: FakeClock, ex_id: int, status: str = "running") -> str:
    cache = ProcessCache(redis, clock=clock)
    return await cache.register_process(
        "account", account_component("kraken", ex_id), {}, "collecting", status
    )


def _silent(problems: list[str]) -> list[str]:
    return [p for p in problems if "has not reported" in p]


async def test_a_producer_silent_past_the_bound_is_a_problem(redis_client: aioredis.Redis) -> None:
    clock = FakeClock(T0)
    await _register(redis_client, clock, 7)
    fresh = await collect_health(redis_client, PREFIX, now=T0 + SILENT_PRODUCER_S)
    assert fresh.healthy and not _silent(fresh.problems)
    late = await collect_health(redis_client, PREFIX, now=T0 + SILENT_PRODUCER_S + 1)
    assert not late.healthy and late.exit_code() == 1
    [problem] = _silent(late.problems)
    assert problem.startswith("account:kraken:7: its producer has not reported for 121 s (> 120 s")
    assert "last: running: collecting" in problem
    bound = await collect_health(redis_client, PREFIX, now=T0 + 30, silent_after_s=10)
    assert _silent(bound.problems)


async def test_stopped_or_taken_over_is_not_silent(redis_client: aioredis.Redis) -> None:
    clock = FakeClock(T0)
    stopped = await _register(redis_client, clock, 1)
    await _register(redis_client, clock, 2)
    await ProcessCache(redis_client, clock=clock).stop_process(stopped)
    clock.now += 600  # ex_id 2's first producer died; another took the account over 10 minutes later
    await _register(redis_client, clock, 2)
    report = await collect_health(redis_client, PREFIX, now=clock.now + 5)
    assert report.healthy, report.problems
    assert [p["component"] for p in report.processes] == ["account:kraken:2"]
    later = await collect_health(redis_client, PREFIX, now=clock.now + 3600)
    assert [p.split(":")[2] for p in _silent(later.problems)] == ["2"]


async def test_an_account_in_error_that_reports_is_a_warning(redis_client: aioredis.Redis) -> None:
    clock = FakeClock(T0)
    pid = await _register(redis_client, clock, 3)
    await ProcessCache(redis_client, clock=clock).update_process(pid, "error", "no credentials for ex_id 3")
    report = await collect_health(redis_client, PREFIX, now=T0 + 5)
    assert report.healthy
    assert report.warnings == ["account:kraken:3: no credentials for ex_id 3"]
