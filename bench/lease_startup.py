"""The producer's start-up at many accounts: are its leases kept while it opens them (issue 18)?

    uv run python -u bench/lease_startup.py [--accounts 1000] [--hold 60] [--probe]

The real ``fullon-account producer`` (a subprocess) on a private ``redis-server``, a SQLite
database holding ``--accounts`` Kraken accounts and the simulator in this process, as
``producer_memory.py`` sets them up, but no fills: only the start-up. Printed: the seconds from
the producer's start until every account's private channel is subscribed and every account's
first balance is on the bus, then, after ``--hold`` more seconds at rest, the producer's log by
event (a lease not confirmed, an account in error: none expected) and how many times the
accounts' fill channels were subscribed (once per account expected; more are reconnects).

``--probe`` runs the producer with ``loop_probe`` (on asyncio's own loop, not uvloop) and prints
the turns of its event loop whose callbacks together took at least ``TURN_SLOW_MS`` (when, how
long, how many callbacks) and the slowest single callbacks by name: where the loop was held.
A lease renewal waits whole turns for its reply; turns of seconds are what pass the local bound.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

from e2e_loop import PROBE_DIR
from loop_probe.sitecustomize import TURN_SLOW_MS
from producer_memory import FILL_CHANNEL, _stream_at_least, print_log, rig, running, until

VENUE = "kraken"
OPEN_TIMEOUT_S = 900.0


def print_probe(path: Path, started: float) -> None:
    """The slow turns and the slowest callbacks the probe recorded, times since the start."""
    raw = json.loads(path.read_text())
    turns = raw["turns_slow"]
    print(
        f"  loop: {raw['turns']:,} turns, {raw['callbacks']:,} callbacks, busy {raw['busy_s']:,.0f} s; "
        f"longest turn {raw['longest_turn_ms']:,.0f} ms; {len(turns)} turns >= {TURN_SLOW_MS:g} ms, "
        f"{sum(1 for t in turns if t[1] >= 5000)} >= 5 s",
        flush=True,
    )
    for at, ms, callbacks in sorted(turns, key=lambda t: -t[1])[:8]:
        print(f"    turn at +{at - started:,.1f} s: {ms:,.0f} ms, {callbacks:,} callbacks", flush=True)
    names: Counter[str] = Counter()
    for _, ms, _, name in raw["slow"]:
        names[name.split(" @ ")[0]] += ms
    for name, ms in names.most_common(8):
        print(f"    callbacks of {name}: {ms:,.0f} ms in those >= 20 ms", flush=True)


async def measure(accounts_n: int, hold_s: float, probe: bool, seed: int) -> None:
    async with rig(VENUE, accounts_n, seed, "lease-startup-") as r:
        env = r.env
        loop_file = r.work / "loop.json"
        if probe:
            path = os.pathsep.join(p for p in (str(PROBE_DIR), env.get("PYTHONPATH", "")) if p)
            env |= {"PYTHONPATH": path, "E2E_LOOP_PROBE": str(loop_file)}
        log = r.work / "producer.log"
        script = Path(sys.executable).with_name("fullon-account")
        started, wall = time.monotonic(), time.time()
        async with running((str(script), "producer"), env, log):
            channel = FILL_CHANNEL[VENUE]
            for account in r.accounts:
                await r.sim.world.subscriptions.wait(account, {channel}, timeout_s=OPEN_TIMEOUT_S)
            subscribed = time.monotonic() - started
            await until(_stream_at_least(r.redis, "balance", accounts_n), OPEN_TIMEOUT_S, "first balances")
            opened = time.monotonic() - started
            print(
                f"  {accounts_n} accounts: every private channel subscribed after {subscribed:,.1f} s, "
                f"every first balance on the bus after {opened:,.1f} s",
                flush=True,
            )
            await asyncio.sleep(hold_s)
            subscribes = sum(r.sim.world.subscriptions.of(a)[channel].subscribes for a in r.accounts)
            print(f"  {channel} subscribed {subscribes:,} times by {accounts_n} accounts", flush=True)
            print_log(log)
            if probe:
                print_probe(loop_file, wall)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=60.0, help="seconds at rest after the start-up")
    parser.add_argument("--probe", action="store_true", help="time the producer's loop turns")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(measure(args.accounts, args.hold, args.probe, args.seed))


if __name__ == "__main__":
    main()
