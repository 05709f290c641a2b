"""``fullon-account health`` as a probe would run it: a separate process, judged by its exit code."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Sequence
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from ops_helpers import PREFIX, PROCESS_DEADLINE_S, run_cli
from producer_proc import add_accounts, start_producer
from truth_events import NOW_MS, envelope

from fullon_account_service.bus.consumer import Consumer, Delivery
from fullon_account_service.bus.deadletter import dead_letter
from fullon_account_service.bus.publisher import Publisher
from fullon_account_service.bus.sink_status import status_key
from fullon_account_service.contract import BalanceSnapshot, CurrencyBalance
from fullon_account_service.errors import StorageUnavailable
from fullon_account_service.storage import ProcessCache
from private_servers import free_port


def probe_env(redis_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "ACCOUNT_STREAM_PREFIX": PREFIX,
        "ACCOUNT_DATA_DIR": str(tmp_path),
        "LOG_LEVEL": "WARNING",
    }


async def test_health_fails_in_one_line_when_redis_does_not_answer(tmp_path: Path) -> None:
    closed = free_port()  # bound and released: nobody listens there
    env = probe_env(f"redis://127.0.0.1:{closed}/0", tmp_path)
    code, out, err = await run_cli(["health"], env)
    assert code == 1, out + err
    assert "UNHEALTHY" in out and "Traceback" not in out + err
    [problem] = [line for line in out.splitlines() if line.startswith("problem:")]
    assert f"cannot reach Redis: ConnectionError: Error 111 connecting to 127.0.0.1:{closed}" in problem
    code, out, err = await run_cli(["health", "--json"], env)
    assert code == 1, out + err
    assert json.loads(out)["problems"] == [problem.removeprefix("problem: ")]


async def test_health_fails_when_a_sink_group_stops_consuming(redis_url: str, tmp_path: Path) -> None:
    redis = aioredis.Redis.from_url(redis_url)
    try:
        balances = [
            envelope(
                1, "kraken", BalanceSnapshot(balances={"USD": CurrencyBalance(total=float(i))}), NOW_MS + i
            )
            for i in range(4)
        ]
        await Publisher(redis, prefix=PREFIX).publish(balances)

        async def store(deliveries: Sequence[Delivery]) -> None:
            return None

        sink = Consumer(
            redis, prefix=PREFIX, group="cache", consumer="c1", kinds=["balance"], handler=store, batch_size=1
        )
        await sink.ensure_groups()
        async with asyncio.timeout(60):
            assert await sink.run_once() == 1
        await asyncio.sleep(0.6)

        env = probe_env(redis_url, tmp_path)
        code, out, err = await run_cli(["health", "--json", "--stall-after", "0.3"], env)
        assert code == 1, err
        report = json.loads(out)
        assert report["healthy"] is False
        assert any(
            "group cache" in problem and "no active consumer" in problem for problem in report["problems"]
        )

        async with asyncio.timeout(60):
            while await sink.run_once():
                pass
        code, out, err = await run_cli(["health", "--stall-after", "0.3"], env)
        assert code == 0, out + err
        assert "healthy" in out
    finally:
        await redis.aclose()


async def test_health_names_a_sink_group_waiting_on_a_broken_store(redis_url: str, tmp_path: Path) -> None:
    redis = aioredis.Redis.from_url(redis_url)
    stop = asyncio.Event()
    try:
        balances = [
            envelope(1, "kraken", BalanceSnapshot(balances={"USD": CurrencyBalance(total=1.0)}), NOW_MS + i)
            for i in range(2)
        ]
        await Publisher(redis, prefix=PREFIX).publish(balances)

        async def broken(deliveries: Sequence[Delivery]) -> None:
            raise StorageUnavailable("database store failed: no such table: accounts_x")

        sink = Consumer(redis, prefix=PREFIX, group="cache", consumer="c1", kinds=["balance"], handler=broken)
        task = asyncio.create_task(sink.run(stop), name="broken-sink")
        key = status_key(PREFIX, "cache", "c1")
        async with asyncio.timeout(30):
            while not await redis.exists(key):
                await asyncio.sleep(0.05)

        code, out, err = await run_cli(["health", "--json"], probe_env(redis_url, tmp_path))
        assert code == 1, out + err
        report = json.loads(out)
        [problem] = [p for p in report["problems"] if "sink group cache" in p]
        assert "consumer c1" in problem and "no such table: accounts_x" in problem
        assert report["sink_errors"][0]["reason"].startswith("StorageUnavailable: ")

        stop.set()
        async with asyncio.timeout(30):
            await task
        assert not await redis.exists(key)  # a clean stop takes its error record with it
        assert await redis.xlen(f"{PREFIX}dead") == 0
    finally:
        stop.set()
        await redis.aclose()


async def test_health_warns_on_dead_letters_and_exits_3_past_the_threshold(
    redis_url: str, tmp_path: Path
) -> None:
    redis = aioredis.Redis.from_url(redis_url)
    try:
        for i in range(3):
            await dead_letter(redis, prefix=PREFIX, reason=f"bad {i}", payload=b"x")
    finally:
        await redis.aclose()
    env = probe_env(redis_url, tmp_path)
    code, out, err = await run_cli(["health"], {**env, "ACCOUNT_DLQ_WARN": "5"})
    assert code == 0, out + err
    assert "3 entries in the dead-letter stream" in " ".join(out.split())
    code, out, err = await run_cli(["health"], {**env, "ACCOUNT_DLQ_WARN": "2"})
    assert code == 3, out + err
    assert "more than 2 letters" in " ".join(out.split())
    code, out, err = await run_cli(["health", "--dlq-warn", "0"], {**env, "ACCOUNT_DLQ_WARN": "2"})
    assert code == 0, out + err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
async def test_health_names_the_account_of_a_killed_producer_not_of_a_stopped_one(
    sig: signal.Signals, cli_env: dict[str, str], redis_url: str
) -> None:
    """The real producer's process record: marked stopped on SIGTERM, left running on SIGKILL, which
    ``--silent-after 0`` shows at once (the default bound is four missed 30 s reports)."""
    [ex_id] = await add_accounts(cli_env, ["kraken"])
    env = {**cli_env, "REDIS_URL": redis_url, "ACCOUNT_REDISCOVER_INTERVAL": "600"}
    component = f"account:kraken:{ex_id}"
    producer = await start_producer([], env)
    redis = aioredis.Redis.from_url(redis_url)
    try:
        async with asyncio.timeout(PROCESS_DEADLINE_S):
            # the record as health reads it, not only the component's entry: with leases on, the
            # fenced entry is linked before the record is written
            while not await ProcessCache(redis).get_active_processes("account", component):
                await asyncio.sleep(0.1)
        producer.proc.send_signal(sig)
        await producer.wait(PROCESS_DEADLINE_S)
    finally:
        await producer.kill()
        await redis.aclose()
    code, out, err = await run_cli(["health", "--json", "--no-explain", "--silent-after", "0"], env)
    silent = [p for p in json.loads(out)["problems"] if "has not reported" in p]
    if sig == signal.SIGKILL:
        assert code == 1, out + err
        assert [p.split(": its producer")[0] for p in silent] == [component]
    else:
        assert silent == [], silent
