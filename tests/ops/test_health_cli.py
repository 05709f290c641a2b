"""``fullon-account health`` as a probe would run it: a separate process, judged by its exit code."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import redis.asyncio as aioredis
from ops_helpers import PREFIX, run_cli
from truth_events import NOW_MS, envelope

from fullon_account_service.bus.consumer import Consumer, Delivery
from fullon_account_service.bus.publisher import Publisher
from fullon_account_service.contract import BalanceSnapshot, CurrencyBalance


def probe_env(redis_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "ACCOUNT_STREAM_PREFIX": PREFIX,
        "ACCOUNT_DATA_DIR": str(tmp_path),
        "LOG_LEVEL": "WARNING",
    }


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
        async with asyncio.timeout(5):
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

        async with asyncio.timeout(5):
            while await sink.run_once():
                pass
        code, out, err = await run_cli(["health", "--stall-after", "0.3"], env)
        assert code == 0, out + err
        assert "healthy" in out
    finally:
        await redis.aclose()
