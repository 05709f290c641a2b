"""A sink SIGKILLed between its commit and its ack, then restarted: nothing lost, nothing twice.

The sink runs in a subprocess (``sink_harness.py``) against real Redis when REDIS_URL is set,
else a fakeredis TCP server started here, and the test's database (a SQLite file or PostgreSQL).
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select

from fullon_account_service.bus import Publisher
from fullon_account_service.bus.streams import dead_letter_key
from fullon_account_service.ledger.fifo import compute
from fullon_account_service.settings import Settings
from fullon_account_service.storage.db.models import Trade
from sink_samples import Db, envelope, pnl_fill, random_fills

HARNESS = Path(__file__).with_name("sink_harness.py")
PNL = ("cur_volume", "cur_avg_price", "cur_avg_cost", "cur_fee", "roi", "roi_pct", "total_fee")
N_FILLS = 300


@pytest.fixture
async def bus(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


def start(
    settings: Settings, db: Db, redis_url: str, consumer: str, kill_after: int = 0
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": db.url,
        "ACCOUNT_STREAM_PREFIX": settings.stream_prefix,
        "ACCOUNT_CLAIM_IDLE_MS": "300",
        "ACCOUNT_BATCH_SIZE": "40",
        "LOG_LEVEL": "WARNING",
        "SINK_KILL_AFTER_BATCHES": str(kill_after),
    }
    return subprocess.Popen([sys.executable, str(HARNESS), "orm", consumer], env=env)


async def wait_exit(proc: subprocess.Popen[bytes], timeout_s: float = 60) -> int:
    async with asyncio.timeout(timeout_s):
        while proc.poll() is None:
            await asyncio.sleep(0.05)
    return proc.returncode


async def stored_count(db: Db) -> int:
    async with db.factory() as session:
        return int(await session.scalar(select(func.count()).select_from(Trade)) or 0)


async def test_sigkill_between_commit_and_ack_loses_and_duplicates_nothing(
    settings: Settings, db: Db, bus: aioredis.Redis, redis_url: str
) -> None:
    fills = random_fills(random.Random(3), N_FILLS, prefix="a", symbols=("BTC/USDT", "ETH/USDT"))
    await Publisher(bus, prefix=settings.stream_prefix).publish([envelope(f) for f in fills])

    first = start(settings, db, redis_url, "doomed", kill_after=2)
    try:
        assert await wait_exit(first) == -signal.SIGKILL
    finally:
        first.kill()
    committed = await stored_count(db)
    stream = f"{settings.stream_prefix}trade"
    pending = await bus.xpending(stream, "orm")
    assert committed == 80 and pending["pending"] >= 40  # the second batch: stored, never acked

    second = start(settings, db, redis_url, "survivor")
    try:
        async with asyncio.timeout(60):
            while (await bus.xpending(stream, "orm"))["pending"] or await stored_count(db) < N_FILLS:
                assert second.poll() is None
                await asyncio.sleep(0.1)
        second.send_signal(signal.SIGTERM)
        assert await wait_exit(second) == 0
    finally:
        second.kill()

    assert await stored_count(db) == N_FILLS
    assert await bus.xlen(dead_letter_key(settings.stream_prefix)) == 0
    async with db.factory() as session:
        rows = {t.ex_trade_id: t for t in (await session.scalars(select(Trade))).all()}
    for symbol in ("BTC/USDT", "ETH/USDT"):
        history = [pnl_fill(f) for f in fills if f.symbol == symbol]
        for fill, want in compute(symbol, history):
            for name in PNL:
                assert math.isclose(getattr(rows[fill.ex_trade_id], name), getattr(want, name), abs_tol=1e-9)
