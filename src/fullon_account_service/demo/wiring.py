"""The demo's pieces: embedded settings, the registered accounts and the producer context.

The demo must run on a laptop with nothing installed, so it never honours ``REDIS_URL`` or
``DATABASE_URL``: it always uses a fresh SQLite file in the data directory and the in-process
fakeredis. Credentials reach the producer the way an operator's would (``EX_ID_{n}_KEY`` /
``EX_ID_{n}_SECRET``), through a mapping handed to the resolver instead of the real
environment, and venue URLs through the same per-venue overrides the producer tests use.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from fullon_account_service.account_admin import add_account
from fullon_account_service.metrics.sensor import Sensor
from fullon_account_service.producers.clients import strip_credentials
from fullon_account_service.producers.context import ProducerContext, Timing
from fullon_account_service.retry import RetryPolicies, RetryPolicy
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.server import Simulator

DEMO_USER = "demo@fullon.local"
LOOPBACK_RATE_LIMIT_MS = 20
"""ccxt's pacing between requests; real venues need hundreds of ms, the local simulator does not."""


@dataclass(frozen=True, slots=True)
class DemoOptions:
    accounts_per_venue: int = 2
    seed: int = 7
    rate_per_s: float = 10.0
    duration_s: float | None = None
    poll_interval_s: float = 3.0
    refresh_s: float = 0.5
    settle_timeout_s: float = 20.0


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """One simulated account as registered: (venue, index) in the truth, ex_id in the database."""

    ex_id: int
    venue: str
    index: int
    name: str


def demo_timing(options: DemoOptions) -> Timing:
    """Intervals short enough that REST-only accounts visibly move within seconds."""
    poll = options.poll_interval_s
    return Timing(
        poll_interval_s=poll,
        fast_poll_interval_s=min(1.0, poll),
    )


def demo_retry(settings: Settings) -> RetryPolicies:
    """The settings' policies with venue retries capped at 5 s, so an outage heals in view."""
    return dataclasses.replace(
        RetryPolicies.from_settings(settings), venue=RetryPolicy.exponential(settings.reconnect_delay_s, 5.0)
    )


@dataclass(frozen=True, slots=True)
class DemoPaths:
    """Files of one demo run, named by start time and pid so runs never share them."""

    database: Path
    log: Path

    @classmethod
    def new(cls, data_dir: Path, *, now: float | None = None) -> DemoPaths:
        stem = f"demo-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}-{os.getpid()}"
        return cls(database=data_dir / f"{stem}.db", log=data_dir / f"{stem}.log")


def demo_settings(base: Settings, options: DemoOptions, paths: DemoPaths) -> Settings:
    """``base`` with the embedded backends forced: a new SQLite file, in-process Redis."""
    return dataclasses.replace(
        base,
        database_url=f"sqlite+aiosqlite:///{paths.database}",
        redis_url=None,
        poll_interval_s=options.poll_interval_s,
        reconnect_delay_s=0.5,
        rediscover_interval_s=5.0,
        secrets_file=None,
    )


async def register_accounts(sim: Simulator, database_url: str) -> list[DemoAccount]:
    """Every simulated account of a running venue, added through the ``accounts add`` code path."""
    registered = []
    for account in sim.world.accounts:
        if account.venue not in sim.venues:
            continue
        name = f"sim-{account.venue}-{account.index}"
        row = await add_account(database_url, exchange=account.venue, name=name, user=DEMO_USER)
        registered.append(DemoAccount(row.ex_id, account.venue, account.index, name))
    return registered


def credentials_env(sim: Simulator, accounts: list[DemoAccount]) -> dict[str, str]:
    """``EX_ID_{n}_KEY``/``_SECRET`` per account, as an operator would export them."""
    by_key = {(a.venue, a.index): a for a in sim.world.accounts}
    env: dict[str, str] = {}
    for demo in accounts:
        account = by_key[(demo.venue, demo.index)]
        env[f"EX_ID_{demo.ex_id}_KEY"] = account.api_key
        env[f"EX_ID_{demo.ex_id}_SECRET"] = account.secret
    return env


def venue_overrides(sim: Simulator) -> dict[str, dict[str, Any]]:
    """Each venue's ccxt URLs pointed at the simulator, without any account's credentials."""
    return {
        venue: {
            **strip_credentials(sim.client_config(sim.world.accounts_of(venue)[0])),
            "rateLimit": LOOPBACK_RATE_LIMIT_MS,
        }
        for venue in sim.venues
    }


def producer_context(
    sim: Simulator,
    settings: Settings,
    redis: aioredis.Redis,
    env: Mapping[str, str],
    options: DemoOptions,
    sensor: Sensor,
) -> ProducerContext:
    return ProducerContext.from_settings(
        settings,
        redis=redis,
        overrides=venue_overrides(sim),
        env=dict(env),
        timing=demo_timing(options),
        retry=demo_retry(settings),
        sensor=sensor,
    )


def truth_keys(accounts: list[DemoAccount]) -> dict[tuple[str, int], int]:
    """What ``verify_books`` needs: (venue, index) -> ex_id."""
    return {(a.venue, a.index): a.ex_id for a in accounts}
