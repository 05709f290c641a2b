"""A producer stops soon after SIGINT or SIGTERM, even with REST calls in flight.

The producer runs as a process against the simulator; once every account streams and REST calls
are slow (3 s each, so some are always in flight), the signal is sent and the exit timed. The
target is 5 s; the assertion allows 15 s so a loaded 2-core machine does not fail it, and the
figure measured is printed (``-s``) and recorded in ``bench/RESULTS.md``.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from ops_helpers import PROCESS_DEADLINE_S
from producer_proc import add_accounts, simulator_env, start_producer

from fullon_account_service.bus.streams import stream_key
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

PREFIX = "test:account:"
CHANNELS = {"kraken": {"executions", "balances"}, "bybit": {"order", "wallet"}}
DEADLINE_S = 15.0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_producer_stops_within_the_deadline_with_rest_calls_in_flight(
    sig: signal.Signals, cli_env: dict[str, str], redis_url: str, tmp_path: Path
) -> None:
    config = ScenarioConfig(venues=("kraken", "bybit"), accounts_per_venue=1, seed=4, rate_per_s=5)
    async with Simulator(config) as sim:
        ex_ids = await add_accounts(cli_env, list(sim.venues))
        env = {
            **cli_env,
            **simulator_env(sim, ex_ids, tmp_path),
            "REDIS_URL": redis_url,
            "ACCOUNT_POLL_INTERVAL": "1",
            "ACCOUNT_REDISCOVER_INTERVAL": "600",  # stopping must not wait for a rediscovery
        }
        sim.start_engine()
        producer = await start_producer([], env)
        redis = aioredis.Redis.from_url(redis_url)
        try:
            for venue in sim.venues:
                account = sim.world.accounts_of(venue)[0]
                await sim.world.subscriptions.wait(account, CHANNELS[venue], timeout_s=PROCESS_DEADLINE_S)
            async with asyncio.timeout(PROCESS_DEADLINE_S):
                while await redis.xlen(stream_key(PREFIX, "balance")) == 0:
                    await asyncio.sleep(0.1)
            sim.world.faults.slow_response_ms = 3000
            rest_calls = sim.world.fault_counts.count("slow_response")
            async with asyncio.timeout(30):
                while sim.world.fault_counts.count("slow_response") < rest_calls + 2:
                    await asyncio.sleep(0.05)
            loop = asyncio.get_running_loop()
            sent = loop.time()
            producer.proc.send_signal(sig)
            code = await producer.wait(60)
            took = loop.time() - sent
        finally:
            await producer.kill()
            await redis.aclose()
            await sim.stop_engine()
    print(f"producer stopped {took:.2f}s after {sig.name}")  # noqa: T201
    assert code == 0, producer.output
    assert took < DEADLINE_S, f"{took:.1f}s"
    assert "Traceback" not in producer.output
