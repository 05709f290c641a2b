"""What a producer reads over REST once its accounts stop trading: calls per minute per account.

    uv run python bench/rest_at_rest.py [--poll-s 5] [--audit-s 300] [--steps 40] [--settle-s 60]
        [--window-s 120] [--seed 5]

One process, as the producer tests run it: the simulator (Kraken, Bybit, Hyperliquid, one account
each), a collector and a poller on an in-memory Redis, with the intervals a producer derives from
``ACCOUNT_POLL_INTERVAL`` and ``ACCOUNT_AUDIT_INTERVAL_S`` (``Timing.from_settings``). The accounts
trade ``--steps`` scenario steps, then nothing: after ``--settle-s`` (longer than any silence
threshold the code may have) every REST call is counted by venue and method for ``--window-s``,
with the process's CPU (simulator included) over that window. Compare code versions by running it
with ``PYTHONPATH`` at each version's ``src``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import Counter
from pathlib import Path

import fakeredis

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "producers"))

from producer_harness import bind_accounts, check_truth, collecting, eventually, make_context

from fullon_account_service.metrics.sensor import Sensor
from fullon_account_service.producers.context import Timing
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

PREFIX = "bench:rest_at_rest:"


class Calls(Sensor):
    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()

    def on_rest_call(self, exchange: str, method: str) -> None:
        self.calls[(exchange, method)] += 1


async def main(args: argparse.Namespace) -> None:
    env = {
        "ACCOUNT_STREAM_PREFIX": PREFIX,
        "ACCOUNT_DATA_DIR": args.data_dir,
        "ACCOUNT_POLL_INTERVAL": str(args.poll_s),
        "ACCOUNT_AUDIT_INTERVAL_S": str(args.audit_s),
    }
    settings = Settings.from_env(env)
    timing = Timing.from_settings(settings)
    redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    config = ScenarioConfig(venues=("kraken", "bybit", "hyperliquid"), accounts_per_venue=1, seed=args.seed)
    sensor = Calls()
    async with Simulator(config) as sim:
        bindings = bind_accounts(sim)
        ctx = make_context(sim, settings, redis, bindings, timing=timing, sensor=sensor)
        async with collecting(ctx, bindings):
            await eventually(lambda: check_truth(redis, PREFIX, bindings), 120)
            sim.engine.run_steps(args.steps)
            await eventually(lambda: check_truth(redis, PREFIX, bindings), 120)
            await asyncio.sleep(args.settle_s)
            sensor.calls.clear()
            cpu0, wall0 = time.process_time(), time.monotonic()
            await asyncio.sleep(args.window_s)
            cpu_s, wall_s = time.process_time() - cpu0, time.monotonic() - wall0
            calls = Counter(sensor.calls)
    per_min = 60.0 / wall_s
    print(
        f"rest_at_rest: seed {args.seed}, {args.steps} steps then at rest; poll {args.poll_s:g} s, "
        f"audit {args.audit_s:g} s; {timing}"
    )
    print(f"  window {wall_s:.0f} s after {args.settle_s:g} s at rest; load average {os.getloadavg()[0]:.2f}")
    print(f"  {'venue':<12} {'method':<34} {'calls/min':>9}")
    for venue in config.venues:
        mine = {m: n for (v, m), n in calls.items() if v == venue}
        for method, n in sorted(mine.items()):
            print(f"  {venue:<12} {method:<34} {n * per_min:9.1f}")
        print(f"  {venue:<12} {'(all)':<34} {sum(mine.values()) * per_min:9.1f}")
    share = 100 * cpu_s / wall_s
    print(f"  CPU {cpu_s:.2f} s in {wall_s:.0f} s ({share:.1f} %; process, simulator included)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--poll-s", type=float, default=5.0, help="ACCOUNT_POLL_INTERVAL")
    parser.add_argument("--audit-s", type=float, default=300.0, help="ACCOUNT_AUDIT_INTERVAL_S")
    parser.add_argument("--steps", type=int, default=40, help="scenario steps before the rest")
    parser.add_argument("--settle-s", type=float, default=60.0, help="seconds at rest before counting")
    parser.add_argument("--window-s", type=float, default=120.0, help="seconds counted")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--data-dir", default="/tmp/rest_at_rest")
    asyncio.run(main(parser.parse_args()))
