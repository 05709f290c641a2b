"""``fullon-account tail`` in a subprocess shows what was published, as rich text and as JSON.

The embedded fakeredis lives inside one process, so the subprocess needs a Redis over TCP: the
real one when REDIS_URL is set, else a fakeredis TCP server started here on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

import factories
from factories import NOW_MS
from fullon_account_service.bus import Publisher, dead_letter
from fullon_account_service.contract import (
    Envelope,
    LedgerReason,
    Payload,
    Side,
    TradeFill,
    encode,
)

PREFIX = "test:account:"
RUN_TIMEOUT_S = 30


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


def envelope(payload: Payload, ex_id: int = 7, exchange: str = "kraken") -> Envelope:
    return factories.envelope(payload, ex_id=ex_id, exchange=exchange, received_ms=NOW_MS + 100)


def fill(trade_id: str, symbol: str = "BTC/USDT") -> TradeFill:
    return factories.fill(trade_id, symbol=symbol, side=Side.BUY, price=101.5, volume=0.25)


EVENTS = [
    envelope(fill("t-1")),
    envelope(
        factories.order("o-9", symbol="ETH/USDT", side=Side.SELL, price=2000.0, volume=1.0),
        ex_id=8,
        exchange="bybit",
    ),
    envelope(factories.balance(total=10.0, free=8.0, used=2.0)),
    envelope(fill("t-2", symbol="SOL/USDT")),
]


def command() -> list[str]:
    script = Path(sys.executable).with_name("fullon-account")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from fullon_account_service.cli.app import main; main()"]


def environment(redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "CACHE_", "ACCOUNT_"))}
    env.update(REDIS_URL=redis_url, ACCOUNT_STREAM_PREFIX=PREFIX, LOG_FORMAT="json", COLUMNS="200")
    return env


def tail(redis_url: str, *args: str, partitions: int = 1) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command(), "tail", "--timeout", "15", *args],
        env={**environment(redis_url), "ACCOUNT_STREAM_PARTITIONS": str(partitions)},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


async def test_json_shows_published_events(redis: aioredis.Redis, redis_url: str) -> None:
    ids = await Publisher(redis, prefix=PREFIX).publish(EVENTS)
    result = tail(redis_url, "--from", "0", "--json", "--count", "4")
    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stdout)
    assert sorted(line["envelope"]["event_id"] for line in lines) == sorted(e.event_id for e in EVENTS)
    assert sorted(line["entry_id"] for line in lines) == sorted(ids)
    by_id = {line["envelope"]["event_id"]: line for line in lines}
    first = by_id[EVENTS[0].event_id]
    assert first["kind"] == "trade"
    assert first["stream"] == f"{PREFIX}trade"
    assert first["envelope"]["payload"]["symbol"] == "BTC/USDT"
    assert first["envelope"]["source"] == "ws"


async def test_every_partition_is_shown(redis: aioredis.Redis, redis_url: str) -> None:
    events = [envelope(fill(f"t-{ex_id}"), ex_id=ex_id) for ex_id in range(1, 7)]
    await Publisher(redis, prefix=PREFIX, partitions=3).publish(events)
    result = tail(redis_url, "--from", "0", "--json", "--count", "6", partitions=3)
    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stdout)
    assert sorted(line["envelope"]["ex_id"] for line in lines) == list(range(1, 7))
    assert len({line["stream"] for line in lines}) == 3


async def test_rich_output_shows_published_events(redis: aioredis.Redis, redis_url: str) -> None:
    await Publisher(redis, prefix=PREFIX).publish(EVENTS)
    result = tail(redis_url, "--from", "0", "--count", "4")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "buy 0.25 BTC/USDT @ 101.5" in out
    assert "open sell limit 1 ETH/USDT @ 2000" in out
    assert "USDT total=10 free=8 used=2" in out
    assert "ex 8 bybit" in out
    assert len(out.splitlines()) == 4


async def test_filters(redis: aioredis.Redis, redis_url: str) -> None:
    await Publisher(redis, prefix=PREFIX).publish(EVENTS)
    result = tail(
        redis_url, "--from", "0", "--json", "--kind", "trade", "--symbol", "SOL/USDT", "--timeout", "1"
    )
    assert [line["envelope"]["event_id"] for line in json_lines(result.stdout)] == [EVENTS[3].event_id]
    result = tail(redis_url, "--from", "0", "--json", "--ex-id", "8", "--exchange", "bybit", "--timeout", "1")
    assert [line["envelope"]["event_id"] for line in json_lines(result.stdout)] == [EVENTS[1].event_id]


async def test_follows_from_now(redis: aioredis.Redis, redis_url: str) -> None:
    publisher = Publisher(redis, prefix=PREFIX)
    await publisher.publish(EVENTS[:1])  # before the start: not shown
    proc = subprocess.Popen(
        [*command(), "tail", "--json", "--count", "2", "--timeout", "20"],
        env=environment(redis_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_following(proc)
        await publisher.publish(EVENTS[1:3])
        stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    shown = [line["envelope"]["event_id"] for line in json_lines(stdout)]
    assert sorted(shown) == sorted(e.event_id for e in EVENTS[1:3])


async def test_dead_letters_with_reasons(redis: aioredis.Redis, redis_url: str) -> None:
    await dead_letter(
        redis,
        prefix=PREFIX,
        reason="failed 5 deliveries: IntegrityError",
        payload=encode(EVENTS[0]),
        stream=f"{PREFIX}trade",
        entry_id="1-0",
        group="sql",
        consumer="sink-1",
    )
    await dead_letter(redis, prefix=PREFIX, reason="undecodable: garbage", payload=b"\xc1")
    result = tail(redis_url, "--dlq", "--from", "0", "--json", "--count", "2")
    assert result.returncode == 0, result.stderr
    first, second = json_lines(result.stdout)
    assert first["reason"] == "failed 5 deliveries: IntegrityError"
    assert (first["group"], first["consumer"]) == ("sql", "sink-1")
    assert first["envelope"]["event_id"] == EVENTS[0].event_id
    assert second["reason"] == "undecodable: garbage"
    rich = tail(redis_url, "--dlq", "--from", "0", "--count", "2")
    assert "failed 5 deliveries: IntegrityError" in rich.stdout
    assert "sql/sink-1" in rich.stdout
    assert "undecodable: garbage" in rich.stdout


def test_ctrl_c_exits_cleanly(redis_url: str) -> None:
    """The watch ends on the signal: its own --timeout is an hour away, past the run's deadline."""
    proc = subprocess.Popen(
        [*command(), "tail", "--timeout", "3600"],
        env=environment(redis_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_following(proc)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr


def test_bad_from_is_a_clean_error(redis_url: str) -> None:
    result = tail(redis_url, "--from", "yesterday-ish")
    assert result.returncode == 2
    assert "--from" in result.stderr
    assert "Traceback" not in result.stderr


def wait_until_following(proc: subprocess.Popen[str]) -> None:
    """Block until tail says it has pinned its start ids, so what is published next is shown."""
    assert proc.stderr is not None
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if line.startswith("following "):
            return
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"tail did not start (rc={proc.poll()})")


async def test_ledger_entries_are_shown_and_filtered_by_kind_and_symbol(
    redis: aioredis.Redis, redis_url: str
) -> None:
    funding = envelope(factories.ledger_entry("f-1"), exchange="bybit")
    deposit = envelope(factories.ledger_entry("d-1", reason=LedgerReason.DEPOSIT, amount=100.0, symbol=None))
    await Publisher(redis, prefix=PREFIX).publish([*EVENTS, funding, deposit])
    rich = tail(redis_url, "--from", "0", "--kind", "ledger", "--count", "2")
    assert rich.returncode == 0, rich.stderr
    assert "funding -0.5 USDT BTC/USDT:USDT ledger f-1" in rich.stdout
    assert "deposit 100 USDT ledger d-1" in rich.stdout
    assert len(rich.stdout.splitlines()) == 2
    result = tail(redis_url, "--from", "0", "--json", "--symbol", "BTC/USDT:USDT", "--timeout", "1")
    assert [line["envelope"]["event_id"] for line in json_lines(result.stdout)] == [funding.event_id]
    assert json_lines(result.stdout)[0]["stream"] == f"{PREFIX}ledger"
