"""The account clients' REST rate limiter lets requests go at ccxt's pace and wakes once per wait
(``rate_limit.ExactThrottler``).

Both limiters run on a fake clock that moves only when they sleep, so what is compared is when
each request was let go on that clock and how many sleeps it took, not the machine's speed.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import ccxt.pro
import pytest
from ccxt.async_support.base import throttler as ccxt_throttler

from fullon_account_service.producers import rate_limit, ws_guard

_real_sleep = asyncio.sleep
KRAKEN_BUCKET = {"delay": 0.001, "capacity": 1, "cost": 1, "refillRate": 1 / 1000, "tokens": 0}
"""ccxt's bucket for a venue allowing one call a second (Kraken's ``rateLimit``: 1,000 ms)."""


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 1_000.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now_s

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.sleeps.append(seconds)
            self.now_s += seconds
        await _real_sleep(0)


async def release_times(limiter: Any, clock: FakeClock, costs: list[float | None]) -> list[float]:
    """Queue one request per cost at once; the fake time at which each was let go, in order."""
    released: list[float] = []
    futures = [limiter(cost) for cost in costs]
    for future in futures:
        future.add_done_callback(lambda _: released.append(clock.now_s))
    async with asyncio.timeout(30):
        await asyncio.gather(*futures)
    return released


def on_fake_clock(monkeypatch: pytest.MonkeyPatch, module: Any, clock: FakeClock) -> None:
    fake = SimpleNamespace(sleep=clock.sleep, Future=asyncio.Future, ensure_future=asyncio.ensure_future)
    monkeypatch.setattr(module, "asyncio", fake)
    monkeypatch.setattr(module, "time", clock.time)


@pytest.mark.parametrize("costs", [[1, 1, 1], [None, 2, 0.5, 3]], ids=["equal costs", "mixed costs"])
async def test_requests_go_at_ccxts_pace_with_one_sleep_per_wait(
    monkeypatch: pytest.MonkeyPatch, costs: list[float | None]
) -> None:
    ccxt_clock, exact_clock = FakeClock(), FakeClock()
    on_fake_clock(monkeypatch, ccxt_throttler, ccxt_clock)
    on_fake_clock(monkeypatch, rate_limit, exact_clock)

    ccxt_times = await release_times(ccxt_throttler.Throttler(dict(KRAKEN_BUCKET)), ccxt_clock, costs)
    exact_times = await release_times(rate_limit.ExactThrottler(dict(KRAKEN_BUCKET)), exact_clock, costs)

    start = 1_000.0
    assert [t - start for t in exact_times] == pytest.approx([t - start for t in ccxt_times], abs=0.002)
    assert exact_times[-1] - start >= sum(c or 1 for c in costs[:-1]) - 0.002  # the venue's rate holds
    waits = len(costs) - 1
    assert len(exact_clock.sleeps) == waits
    assert len(ccxt_clock.sleeps) > 500 * waits  # ccxt looked again every millisecond


async def test_a_request_after_the_bucket_refilled_goes_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    on_fake_clock(monkeypatch, rate_limit, clock)
    limiter = rate_limit.ExactThrottler({**KRAKEN_BUCKET, "tokens": 1})
    assert await release_times(limiter, clock, [1]) == [1_000.0]
    assert clock.sleeps == []


def test_every_account_client_limits_its_rest_calls_with_it() -> None:
    client = ws_guard.guarded_class(ccxt.pro.kraken)({})
    assert isinstance(client.throttler, rate_limit.ExactThrottler)
    assert client.throttler.config["refillRate"] == pytest.approx(1 / client.rateLimit)
