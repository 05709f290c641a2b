"""Events an audit sends again on busy accounts: bus events per distinct fact, by kind and source.

    uv run python bench/audit_repeats.py [--bursts 40] [--steps 60] [--poll-s 3] [--seed 7]

One process, as the producer tests run it: the simulator (Kraken, Bybit, Hyperliquid, one
account each), a collector and a poller on an in-memory Redis, audits every ``--poll-s`` while the
accounts trade. The scenario runs in bursts of ``--steps`` steps every 0.25 s, far more fills per
account between two audits than the producer's memories of what it sent hold (500 fills, 250
order states), which is where the e2e bench's bus events per fact rose at saturation. Once the
bus covers the simulator's ground truth, every event is classed as the e2e watcher does
(``e2e_watch.fact_of``: an event repeating the last state of its order, balance or position, or a
fill or ledger entry already seen, is a repeat) and the repeats are counted by kind and source.
CPU is the process's (simulator included). Compare code versions by running it with
``PYTHONPATH`` at each version's ``src``: the figures of one version move a few percent from run
to run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import fakeredis

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "producers"))

from producer_harness import FAST, bind_accounts, check_truth, collecting, eventually, make_context, read_bus

from e2e_watch import fact_of
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

PREFIX = "bench:audit:"


async def main(args: argparse.Namespace) -> None:
    settings = Settings.from_env({"ACCOUNT_STREAM_PREFIX": PREFIX, "ACCOUNT_DATA_DIR": args.data_dir})
    redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    config = ScenarioConfig(venues=("kraken", "bybit", "hyperliquid"), accounts_per_venue=1, seed=args.seed)
    timing = replace(
        FAST,
        poll_interval_s=args.poll_s,
        fast_poll_interval_s=min(1.0, args.poll_s),
        audit_interval_s=args.poll_s,
    )
    async with Simulator(config) as sim:
        bindings = bind_accounts(sim)
        ctx = make_context(sim, settings, redis, bindings, timing=timing)
        async with collecting(ctx, bindings):
            await eventually(lambda: check_truth(redis, PREFIX, bindings), 60)
            cpu0 = time.process_time()
            for _ in range(args.bursts):
                sim.engine.run_steps(args.steps)
                await asyncio.sleep(0.25)
            await eventually(lambda: check_truth(redis, PREFIX, bindings), 120)
            await asyncio.sleep(2 * args.poll_s)  # the audits after the last burst
            cpu_s = time.process_time() - cpu0
        bus = await read_bus(redis, PREFIX)
    last: dict[tuple[object, ...], bytes] = {}
    repeats: Counter[str] = Counter()
    for envelope in bus:
        key, state = fact_of(envelope)
        if last.get(key) == state:
            repeats[f"{envelope.kind}/{envelope.source.value}"] += 1
        last[key] = state
    events, again = len(bus), sum(repeats.values())
    fills = sum(len(b.account.fills) for b in bindings)
    print(
        f"audit_repeats: seed {args.seed}, {args.bursts} x {args.steps} steps, audits every {args.poll_s:g} s"
    )
    per_fact = events / (events - again)
    print(f"  fills made {fills:,}; bus events {events:,}; repeats {again:,}; bus/fact {per_fact:.3f}")
    print(f"  repeats by kind/source: {' '.join(f'{k}={n}' for k, n in sorted(repeats.items())) or 'none'}")
    print(f"  CPU {cpu_s:.1f} s (process, simulator included); load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bursts", type=int, default=40)
    parser.add_argument("--steps", type=int, default=60, help="scenario steps per burst (every 0.25 s)")
    parser.add_argument("--poll-s", type=float, default=3.0, help="audit interval while the accounts trade")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-dir", default="/tmp/audit_repeats")
    asyncio.run(main(parser.parse_args()))
