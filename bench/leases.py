"""Lease takeover time after a kill, against the lease TTL (issue 16).

    uv run python bench/leases.py [--runs 3] [--ttl 1 2 4]

Three lease pools (the producers' own ``LeasePool`` and ``LeaseStore``, in one process) share 30
API keys on a private ``redis-server`` (or ``REDIS_URL``). Once the shares are even, one pool is
killed: its cycle is cancelled and its renewal thread ended, and it releases nothing, as a
SIGKILLed producer leaves its leases. Measured: the time from the kill until the survivors hold
every key the victim held. Baseline in the same run, same pools: a graceful stop (``leave()``
releases the leases, as SIGTERM does), where the survivors only wait for their next renewal.
Printed per TTL: both times, the kill's time as a share of the TTL, and kill/graceful. The
renewal is TTL/3 (the default ratio).

What it leaves out: a real producer also opens its ccxt sessions and makes its first signed
call after taking a lease (``tests/ops/test_lease_takeover.py`` measures that end to end).

``measure_takeover(redis, ttl_s=..., renew_s=...)`` is the function ``bench/cluster.py`` calls with
its own client (one node or a ``RedisCluster``: every lease key carries a hash tag).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from chaos_servers import PrivateRedis, Reaper
from fullon_account_service.logs import configure_logging
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.cursor import CursorStore
from fullon_account_service.producers.lease_pool import LeasePool
from fullon_account_service.producers.lease_renewer import LeaseRenewer
from fullon_account_service.producers.leases import LeaseStore
from fullon_account_service.redis_client import twin
from fullon_account_service.retry import RetryPolicy
from fullon_account_service.settings import Settings
from fullon_account_service.supervisor import TaskSupervisor
from spread import runs_option, spread

KEYS = 30
PRODUCERS = 3
DEADLINE_S = 120.0
STALL_S = 60.0
"""The producer's default ``ACCOUNT_LEASE_STALL_S``: loops here are never held that long."""


def _key_of(ref: AccountRef) -> str:
    return f"key{ref.ex_id}"


class Changes:
    """Set by every pool after each cycle (its ``apply``), so waits wake on changes, not a timer."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    async def apply(self, owned: dict[int, AccountRef]) -> None:
        self._event.set()

    async def until(self, check: Callable[[], bool]) -> None:
        async with asyncio.timeout(DEADLINE_S):
            while not check():
                self._event.clear()
                await self._event.wait()


async def _serve(pool: LeasePool, store: LeaseStore, redis: Any, renew_s: float, stop: asyncio.Event) -> None:
    """What a producer runs: the cycle, and the renewals on their thread (``LeaseRenewer``); a kill
    cancels the cycle and ends the renewals."""
    renewer = LeaseRenewer(
        pool,
        store,
        lambda: twin(redis),
        renew_s=renew_s,
        stall_s=STALL_S,
        retry=RetryPolicy.exponential(0.5, renew_s),
    )
    async with TaskSupervisor("bench-leases") as tasks:
        renewer.start(tasks, stop)
        try:
            await pool.run(stop)
        finally:
            await renewer.close(DEADLINE_S)


async def measure_takeover(
    redis: Any,
    *,
    ttl_s: float,
    renew_s: float,
    keys: int = KEYS,
    producers: int = PRODUCERS,
    graceful: bool = False,
) -> float:
    """Seconds from one pool's kill (or graceful stop) until the others hold all its keys."""
    prefix = f"bench:leases:{secrets.token_hex(4)}:"
    accounts = {i: AccountRef(i, 1, "kraken") for i in range(keys)}
    changes = Changes()
    stores = [LeaseStore(redis, prefix=prefix, owner=f"p{i}", ttl_s=ttl_s) for i in range(producers)]
    pools = [
        LeasePool(
            store, CursorStore(redis, prefix=prefix), _key_of, changes.apply, ttl_s=ttl_s, renew_s=renew_s
        )
        for store in stores
    ]
    stops = [asyncio.Event() for _ in pools]
    try:
        async with asyncio.TaskGroup() as group:
            for pool in pools:
                await pool.offer(accounts)
            tasks = [
                group.create_task(_serve(pool, store, redis, renew_s, stop))
                for pool, store, stop in zip(pools, stores, stops, strict=True)
            ]

            def even() -> bool:
                counts = [len(p.held) for p in pools]
                return sum(counts) == keys and max(counts) - min(counts) <= 1

            await changes.until(even)
            victim, survivors = pools[0], pools[1:]
            taken = set(victim.held)
            started = time.monotonic()
            if graceful:
                stops[0].set()
                await tasks[0]
                await victim.leave()
            else:
                tasks[0].cancel()
            await changes.until(lambda: taken <= {k for p in survivors for k in p.held})
            took = time.monotonic() - started
            for stop in stops:
                stop.set()
        for pool in survivors:
            await pool.leave()
        return took
    finally:
        async for key in redis.scan_iter(match=f"{prefix}*"):
            await redis.delete(key)


async def run(url: str, ttls: list[float], runs: int) -> None:
    redis = aioredis.Redis.from_url(url)
    try:
        print(
            f"{KEYS} keys over {PRODUCERS} producers; renewal = TTL/3; {runs} run(s) each, median (min-max)"
        )
        print("| TTL s | graceful stop s | kill s | kill/TTL | kill/graceful |")
        print("|------:|----------------:|-------:|---------:|--------------:|")
        for ttl in ttls:
            soft, hard = [], []
            for _ in range(runs):
                soft.append(await measure_takeover(redis, ttl_s=ttl, renew_s=ttl / 3, graceful=True))
                hard.append(await measure_takeover(redis, ttl_s=ttl, renew_s=ttl / 3))
            shares = [h / ttl for h in hard]
            ratios = [h / s for h, s in zip(hard, soft, strict=True)]
            print(
                f"| {ttl:g} | {spread(soft, '.2f')} | {spread(hard, '.2f')} | "
                f"{spread(shares, '.2f')} | {spread(ratios, '.1f')} |"
            )
    finally:
        await redis.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    runs_option(parser)
    parser.add_argument("--ttl", type=float, nargs="+", default=[1.0, 2.0, 4.0], help="lease TTLs, seconds")
    args = parser.parse_args()
    configure_logging(Settings.from_env({"LOG_LEVEL": "WARNING"}))
    if os.environ.get("REDIS_URL"):
        await run(os.environ["REDIS_URL"], args.ttl, args.runs)
        return
    reaper = Reaper()
    with tempfile.TemporaryDirectory(prefix="bench-leases-") as root:
        server = PrivateRedis(Path(root), reaper)
        try:
            await server.start()
            await run(server.url, args.ttl, args.runs)
        finally:
            await server.kill()
            reaper.reap()


if __name__ == "__main__":
    asyncio.run(main())
