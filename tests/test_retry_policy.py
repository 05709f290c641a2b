"""One retry policy: its delays, and every loop that retries asks the policy it was given.

Each loop test injects a policy that counts the failures it was asked about (and waits 0 s), makes
the loop fail, and waits until the policy was asked: no sleeps are patched, no time is measured.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any

import ccxt
import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from factories import envelope, fill
from fullon_account_service.bus.consumer import Consumer
from fullon_account_service.bus.publisher import Publisher
from fullon_account_service.errors import TransientError
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.context import ProducerContext
from fullon_account_service.producers.discovery import Discovery
from fullon_account_service.producers.live_collector import LiveAccountCollector
from fullon_account_service.producers.normalise import Normaliser
from fullon_account_service.producers.outbox import Outbox
from fullon_account_service.producers.rest_poller import RestAccountPoller
from fullon_account_service.producers.session import AccountSession, SessionRegistry
from fullon_account_service.retry import RetryPolicies, RetryPolicy
from fullon_account_service.settings import Settings
from fullon_account_service.supervisor import TaskSupervisor, restarting
from private_servers import free_port
from retry_policies import CountingBackoff, counting

REF = AccountRef(ex_id=1, uid=1, venue="kraken")


async def _until_asked(
    backoff: CountingBackoff, loop: Coroutine[Any, Any, None], stop: asyncio.Event | None = None
) -> None:
    """Run ``loop`` until it asked ``backoff`` enough; then stop it (``stop``, else cancel)."""
    async with TaskSupervisor("test") as tasks:
        task = tasks.spawn(loop, name="loop")
        async with asyncio.timeout(60):
            await backoff.reached.wait()
            if stop is not None:
                stop.set()
                await asyncio.gather(task, return_exceptions=True)


def test_delays_double_up_to_the_cap_with_jitter_and_honour_at_least() -> None:
    seed = random.randrange(2**32)
    print("seed", seed)  # noqa: T201
    random.seed(seed)
    attempts = RetryPolicy.exponential(0.5, 4.0).start()
    delays = [attempts.next() for _ in range(6)]
    for n, delay in enumerate(delays):
        raw = min(0.5 * 2**n, 4.0)
        assert raw / 2 <= delay <= raw
    assert attempts.next(at_least_s=30.0) == 30.0
    attempts.reset()
    assert attempts.failures == 0 and attempts.next() <= 0.5


def test_a_bounded_policy_is_exhausted_after_its_retries() -> None:
    attempts = RetryPolicy.immediate(retries=2).start()
    assert not attempts.exhausted
    attempts.next()
    attempts.next()
    assert attempts.exhausted and attempts.next() == 0.0


def test_policies_come_from_settings(settings: Settings) -> None:
    settings = replace(settings, reconnect_delay_s=2.0, max_retries=4)
    policies = RetryPolicies.from_settings(settings)
    assert policies.venue.cap_s == 300.0 and policies.call.retries == 4
    venue = policies.venue.start()
    assert 1.0 <= venue.next() <= 2.0
    assert 0.5 <= policies.call.start().next() <= 1.0  # a call retries within a second at first


class _Flaky:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    async def fetch_balance(self) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.failures:
            raise ccxt.NetworkError("connection reset")
        return {"ok": True}

    async def watch_balance(self) -> dict[str, Any]:
        raise ccxt.NetworkError("socket closed")


async def test_a_rest_call_under_the_key_lock_uses_the_call_policy() -> None:
    policy, backoff = counting(retries=3)
    session = AccountSession(REF, _Flaky(2), Normaliser(REF, set(), str), asyncio.Lock(), retry=policy)
    assert await session.call("fetch_balance") == {"ok": True}
    assert backoff.failures == [0, 1]


async def test_starting_a_session_uses_the_venue_policy() -> None:
    policy, backoff = counting(until=2)
    registry = SessionRegistry(None, None)  # type: ignore[arg-type]
    tries: list[int] = []

    async def acquire(ref: AccountRef) -> AccountSession:
        tries.append(ref.ex_id)
        if len(tries) <= 2:
            raise TransientError("venue down")
        return AccountSession(ref, None, Normaliser(ref, set(), str), asyncio.Lock())

    registry.acquire = acquire  # type: ignore[method-assign]
    session = await registry.acquire_with_retry(REF, policy.start(), lambda status, message: None)
    assert session.ref == REF and backoff.failures == [0, 1]


async def test_a_crashed_loop_is_restarted_under_the_policy() -> None:
    policy, backoff = counting()
    runs: list[int] = []

    async def run() -> None:
        runs.append(1)
        if len(runs) <= 2:
            raise RuntimeError("boom")

    await restarting(run, policy.start(), kind="test")
    assert len(runs) == 3 and backoff.failures == [0, 1]


def _context(settings: Settings, redis: aioredis.Redis, **policies: RetryPolicy) -> ProducerContext:
    retry = replace(RetryPolicies.immediate(), **policies)
    return ProducerContext.from_settings(settings, redis=redis, overrides={}, env={}, retry=retry)


async def test_a_dropped_stream_reconnects_under_the_venue_policy(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    policy, backoff = counting(until=2)
    ctx = _context(settings, redis_client, venue=policy)
    collector = LiveAccountCollector(context=ctx)
    session = AccountSession(REF, _Flaky(0), Normaliser(REF, set(), str), asyncio.Lock())
    await _until_asked(backoff, collector._watch(session, "balance"))
    assert backoff.failures[:2] == [0, 1]
    await ctx.close()


async def test_a_failed_poll_retries_under_the_venue_policy(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    policy, backoff = counting(until=3)
    ctx = _context(settings, redis_client, venue=policy)
    session = AccountSession(REF, None, Normaliser(REF, set(), str), asyncio.Lock())

    async def acquire(ref: AccountRef) -> AccountSession:
        return session

    async def down(*args: object) -> None:
        raise TransientError("venue down")

    ctx.registry.acquire = acquire  # type: ignore[method-assign]
    ctx.reconciler.run = down  # type: ignore[method-assign]
    poller = RestAccountPoller(context=ctx, poll_interval=60.0)
    await _until_asked(backoff, poller._run(REF))
    assert backoff.failures[:3] == [0, 1, 2]
    await ctx.close()


class _DownPublisher(Publisher):
    async def publish(self, envelopes: Any, before: Any = ()) -> list[str]:
        raise TransientError("redis away")


async def test_the_outbox_retries_a_batch_under_the_publish_policy(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    policy, backoff = counting(until=2)
    outbox = Outbox(
        _DownPublisher(redis_client, prefix=settings.stream_prefix),
        redis_client,
        prefix=settings.stream_prefix,
        retry=policy,
    )
    outbox.start()
    await outbox.put([envelope(fill())])
    async with asyncio.timeout(60):
        await backoff.reached.wait()
    assert backoff.failures[:2] == [0, 1] and outbox.pending == 1
    await outbox.close(timeout_s=0.0)


def _unreachable_redis() -> aioredis.Redis:
    """A client of a loopback port nobody listens on: every command is refused at once."""
    return aioredis.Redis(
        host="127.0.0.1", port=free_port(), retry=Retry(NoBackoff(), 0), socket_connect_timeout=2
    )


async def test_the_consumer_waits_out_an_outage_under_the_outage_policy(settings: Settings) -> None:
    policy, backoff = counting(until=2)
    redis = _unreachable_redis()
    consumer = Consumer(
        redis,
        prefix=settings.stream_prefix,
        group="g",
        consumer="c",
        kinds=["trade"],
        handler=lambda batch: asyncio.sleep(0),
        retry=policy,
    )
    stop = asyncio.Event()
    await _until_asked(backoff, consumer.run(stop), stop)
    await redis.aclose()
    assert backoff.failures[:2] == [0, 1]


class _LostEngine:
    class dialect:
        name = "postgresql"

    def connect(self) -> Any:
        raise OSError("connection refused")


async def test_a_lost_listen_connection_retries_under_the_outage_policy() -> None:
    policy, backoff = counting(until=2)
    discovery = Discovery(None, interval_s=60.0, engine=_LostEngine(), retry=policy)  # type: ignore[arg-type]
    stop = asyncio.Event()
    await _until_asked(backoff, discovery._listen(stop), stop)
    assert backoff.failures[:2] == [0, 1]


@pytest.mark.parametrize("retries", [0, 2])
async def test_a_call_gives_up_after_its_policy_retries(retries: int) -> None:
    policy, backoff = counting(retries=retries)
    client = _Flaky(10)
    session = AccountSession(REF, client, Normaliser(REF, set(), str), asyncio.Lock(), retry=policy)
    with pytest.raises(TransientError):
        await session.call("fetch_balance")
    assert client.calls == retries + 1 and len(backoff.failures) == retries
