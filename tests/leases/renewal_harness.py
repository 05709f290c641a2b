"""The renewal thread for tests: a ``LeaseRenewer`` over a pool, on a twin of the test's client,
started for the length of a block and closed within a bound; a fake clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import redis.asyncio as aioredis

from fullon_account_service.producers.lease_pool import LeasePool
from fullon_account_service.producers.lease_renewer import LeaseRenewer
from fullon_account_service.producers.leases import LeaseStore
from fullon_account_service.redis_client import twin
from fullon_account_service.retry import RetryPolicy
from fullon_account_service.supervisor import TaskSupervisor

CLOSE_S = 30.0


def renewer_of(
    pool: LeasePool,
    store: LeaseStore,
    redis: aioredis.Redis,
    *,
    renew_s: float,
    stall_s: float = 60.0,
    clock: Callable[[], float] = time.monotonic,
    connect: Callable[[], aioredis.Redis] | None = None,
) -> LeaseRenewer:
    return LeaseRenewer(
        pool,
        store,
        connect or (lambda: twin(redis)),
        renew_s=renew_s,
        stall_s=stall_s,
        retry=RetryPolicy.immediate(),
        clock=clock,
    )


@asynccontextmanager
async def renewing(renewer: LeaseRenewer) -> AsyncIterator[None]:
    """The thread renews (and the loop stamps its turns) inside the block; closed after it."""
    stop = asyncio.Event()
    async with TaskSupervisor("test-renewal") as tasks:
        renewer.start(tasks, stop)
        try:
            yield
        finally:
            stop.set()
            await renewer.close(CLOSE_S)
    assert not renewer.running, "the renewal thread outlived its close"
