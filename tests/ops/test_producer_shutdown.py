"""A producer stops on SIGINT or SIGTERM without waiting for its REST calls or its rediscovery.

The producer runs as a process against the simulator; once every account streams, REST answers
are held for an hour (ccxt's timeout raised to match), so calls are in flight that would never end
in the test's time, and the next account rediscovery is 10 minutes away. A producer that waited
for either could not exit on its own before ``PROCESS_DEADLINE_S``; one that cancels them does,
and its log shows the shutdown steps ran. No clock is read: how soon it stops (target 5 s) is
measured by ``bench/producer_shutdown.py``.
"""

from __future__ import annotations

import asyncio
import json
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
HELD_MS = 3_600_000
"""How long the simulator holds every REST answer once the accounts stream: longer than any run."""


SHUTDOWN_STEPS = ("Stopping AccountDaemon", "AccountDaemon stopped successfully")
"""Logged in this order by the daemon's shutdown: its start, and its end after every step ran."""


def hold_rest_answers(overrides: Path) -> None:
    """Raise ccxt's own timeout past ``HELD_MS``, so a held call ends only if it is cancelled."""
    venues = json.loads(overrides.read_text())
    overrides.write_text(json.dumps({name: {**cfg, "timeout": 2 * HELD_MS} for name, cfg in venues.items()}))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_producer_stops_on_a_signal_with_rest_calls_held_in_flight(
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
            "LOG_LEVEL": "INFO",  # the shutdown steps are logged at INFO
        }
        hold_rest_answers(Path(env["ACCOUNT_EXCHANGE_OVERRIDES"]))
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
            sim.world.faults.slow_response_ms = HELD_MS
            rest_calls = sim.world.fault_counts.count("slow_response")
            async with asyncio.timeout(PROCESS_DEADLINE_S):
                while sim.world.fault_counts.count("slow_response") < rest_calls + 2:
                    await asyncio.sleep(0.05)
            producer.proc.send_signal(sig)
            code = await producer.wait(PROCESS_DEADLINE_S)
        finally:
            await producer.kill()
            await redis.aclose()
            await sim.stop_engine()
    assert code == 0, producer.output
    steps = [step for line in producer.lines for step in SHUTDOWN_STEPS if step in line]
    assert steps == list(SHUTDOWN_STEPS), producer.output
    assert "Traceback" not in producer.output
