"""The renewal thread (``lease_renewer``): a producer whose event loop is held keeps its leases for
as long as the loop turned within the stall bound; held past it, its leases lapse, another
producer takes them over and fencing refuses the stuck one's writes.

The loop is held the way a burst of callbacks or a collection holds it: the test's own code blocks
it, waiting on the renewal thread. Time is a fake clock that the test moves (the pool's bounds and
the loop's stamp); only the thread's interval is real, and short. Every wait is on a condition
with a deadline, so the run is the same on a loaded machine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.retry import Retry
from renewal_harness import renewer_of, renewing

from fake_clock import FakeClock
from fullon_account_service.errors import ConfigError, StaleLeaseError
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.context import ProducerContext
from fullon_account_service.producers.cursor import CursorStore, FenceBook
from fullon_account_service.producers.lease_pool import LeasePool
from fullon_account_service.producers.lease_renewer import LeaseRenewer
from fullon_account_service.producers.leases import LeaseStore, lease_key
from fullon_account_service.producers.pool_membership import PoolMembership
from fullon_account_service.redis_client import twin
from fullon_account_service.settings import Settings
from fullon_account_service.supervisor import TaskSupervisor
from private_servers import free_port

T = TypeVar("T")
ACCOUNTS = 4
TTL_S, RENEW_S, STALL_S = 30.0, 0.05, 60.0
"""The pool's TTL and the stall bound are fake seconds; the interval is real seconds."""
DEADLINE_S = 30.0


class Producer:
    """A pool on a fake clock whose ``apply`` records what it would collect."""

    def __init__(
        self, redis: aioredis.Redis, settings: Settings, clock: FakeClock, *, store_ttl_s: float
    ) -> None:
        self.owned: dict[int, AccountRef] = {}
        self.fences = FenceBook(clock)
        self.cursors = CursorStore(redis, prefix=settings.stream_prefix, fences=self.fences)
        self.store = LeaseStore(redis, prefix=settings.stream_prefix, owner="p", ttl_s=store_ttl_s)
        self.pool = LeasePool(
            self.store,
            self.cursors,
            lambda ref: f"key{ref.ex_id}",
            self._apply,
            ttl_s=TTL_S,
            renew_s=RENEW_S,
            clock=clock,
        )

    async def _apply(self, owned: dict[int, AccountRef]) -> None:
        self.owned = owned

    def signing(self) -> list[int]:
        return [ex_id for ex_id in range(ACCOUNTS) if self.fences.may_sign(ex_id)]


def accounts() -> dict[int, AccountRef]:
    return {ex_id: AccountRef(ex_id, 1, "kraken") for ex_id in range(ACCOUNTS)}


def hold_until(condition: Callable[[], bool], what: str) -> None:
    """Hold the event loop (as a long callback does) until ``condition``, within the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"the loop was held {DEADLINE_S} s and {what} never happened"
        time.sleep(0.005)


def round_after_now(renewer: LeaseRenewer) -> None:
    """Hold the loop until a round begun after this call has ended: the next but one has begun."""
    begun = renewer.rounds
    hold_until(lambda: renewer.rounds >= begun + 2, "a renewal round")


def off_the_loop(redis: aioredis.Redis, work: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
    """Run ``work`` on a thread with its own loop and client (another producer, say) while this
    loop stays held."""

    async def main() -> T:
        client = twin(redis)
        try:
            async with asyncio.timeout(DEADLINE_S):
                return await work(client)
        finally:
            await client.aclose()

    with ThreadPoolExecutor(1) as executor:
        return executor.submit(asyncio.run, main()).result()


async def test_a_held_loop_keeps_its_leases_while_it_turned_within_the_bound(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    clock = FakeClock()
    p = Producer(redis_client, settings, clock, store_ttl_s=TTL_S)
    await p.pool.offer(accounts())
    assert len(p.pool.held) == ACCOUNTS
    renewer = renewer_of(p.pool, p.store, redis_client, renew_s=RENEW_S, stall_s=STALL_S, clock=clock)
    async with renewing(renewer):
        while clock.now < TTL_S + 15.0:  # the loop held past the TTL, within the stall bound
            clock.now += 5.0
            round_after_now(renewer)
            assert p.signing() == list(range(ACCOUNTS)), f"a lease unsure {clock.now} s into the hold"
    assert p.pool.held == {f"key{ex_id}": 1 for ex_id in range(ACCOUNTS)}
    for ex_id in range(ACCOUNTS):
        assert await redis_client.get(lease_key(settings.stream_prefix, f"key{ex_id}")) == b"p"


async def test_a_loop_held_past_the_stall_bound_lets_its_leases_lapse_to_another_producer(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    """Held past ``stall_s``, the thread renews no more: the leases lapse in Redis (a TTL of 1 s
    here) while the loop is still held, another producer takes them and fences the cursors; when
    the loop turns again its writes are refused and the next renewal finds the leases lost."""
    clock = FakeClock()
    p = Producer(redis_client, settings, clock, store_ttl_s=1.0)
    await p.pool.offer(accounts())
    assert len(p.pool.held) == ACCOUNTS
    await p.cursors.advance(0, 100)
    renewer = renewer_of(p.pool, p.store, redis_client, renew_s=RENEW_S, stall_s=STALL_S, clock=clock)

    async def take_over(redis: aioredis.Redis) -> dict[str, int]:
        q = LeasePool(
            LeaseStore(redis, prefix=settings.stream_prefix, owner="q", ttl_s=TTL_S),
            CursorStore(redis, prefix=settings.stream_prefix),
            lambda ref: f"key{ref.ex_id}",
            lambda owned: asyncio.sleep(0),
            ttl_s=TTL_S,
            renew_s=RENEW_S,
        )
        while len(q.held) < ACCOUNTS:  # the leases lapse within their TTL of 1 s
            await q.offer(accounts())
            await asyncio.sleep(0.05)
        return q.held

    async with renewing(renewer):
        clock.now = STALL_S + 1.0
        round_after_now(renewer)
        assert p.signing() == [], "signed on from a loop stuck past the stall bound"
        taken = off_the_loop(redis_client, take_over)
        assert taken == {f"key{ex_id}": 2 for ex_id in range(ACCOUNTS)}
        with pytest.raises(StaleLeaseError):
            await p.cursors.advance(0, 200)
        async with asyncio.timeout(DEADLINE_S):
            while p.pool.held:  # the loop turns again: renewed, found lost
                await asyncio.sleep(0.01)
    await p.pool.cycle()
    assert p.owned == {}
    assert await CursorStore(redis_client, prefix=settings.stream_prefix).get(0) == 100


async def test_the_thread_rides_out_a_redis_it_cannot_reach_and_stops_within_its_bound(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    """Renewals that fail are retried at the next interval (the leases stay sure within their
    bound), and closing ends the thread even so."""
    clock = FakeClock()
    p = Producer(redis_client, settings, clock, store_ttl_s=TTL_S)
    await p.pool.offer(accounts())
    port = free_port()
    renewer = renewer_of(
        p.pool,
        p.store,
        redis_client,
        renew_s=RENEW_S,
        clock=clock,
        connect=lambda: aioredis.Redis(port=port, retry=Retry(NoBackoff(), 0)),
    )
    async with renewing(renewer), asyncio.timeout(DEADLINE_S):
        while renewer.rounds < 3:
            await asyncio.sleep(0.01)
        assert p.signing() == list(range(ACCOUNTS))
    assert len(p.pool.held) == ACCOUNTS


def test_the_stall_bound_is_a_setting_of_at_least_two_seconds() -> None:
    """The loop stamps its turns every second: a shorter bound would call a turning loop stuck."""
    assert Settings.from_env({}).lease_stall_s == 60.0
    assert Settings.from_env({"ACCOUNT_LEASE_STALL_S": "2"}).lease_stall_s == 2.0
    with pytest.raises(ConfigError, match="ACCOUNT_LEASE_STALL_S"):
        Settings.from_env({"ACCOUNT_LEASE_STALL_S": "1.5"})


async def test_a_producer_leaving_the_pool_ends_its_renewal_thread_and_frees_its_keys(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    """The daemon's wiring (``PoolMembership``): renewals run on the thread while the producer is
    in the pool; leaving ends the thread within the drain bound, then releases every lease."""
    context = ProducerContext.from_settings(settings, redis=redis_client, env={})
    owned: list[dict[int, AccountRef]] = []

    async def apply(accounts: dict[int, AccountRef]) -> None:
        owned.append(accounts)

    membership = PoolMembership(context, settings, apply)
    stop = asyncio.Event()
    try:
        async with TaskSupervisor("test-membership") as tasks:
            offer = membership.start(tasks, stop)
            await offer(accounts())
            assert set(owned[-1]) == set(accounts()) and membership.renewer.running
            async with asyncio.timeout(DEADLINE_S):
                while membership.renewer.rounds < 2:
                    await asyncio.sleep(0.01)
            stop.set()
        keys = [lease_key(settings.stream_prefix, lease) for lease in membership.pool.held]
        assert len(keys) == ACCOUNTS
        await membership.leave(DEADLINE_S)
        assert not membership.renewer.running
        assert [await redis_client.get(key) for key in keys] == [None] * ACCOUNTS
    finally:
        await context.close()
