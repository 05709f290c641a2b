"""The whole pipeline end to end at rising rates, against the seed's shape in the same run.

    uv run python bench/e2e.py [--redis-url URL] [--database-url URL] [--rates 50,100,200,...]
        [--step-s S] [--accounts N] [--venues kraken,bybit,hyperliquid] [--seed N] [--quick]
        [--tick-ms MS] [--probe] [--profile DIR]

Defaults: ``REDIS_URL`` / ``DATABASE_URL`` when set, else Redis db 8 and the PostgreSQL database
``test_h8`` on 127.0.0.1. Everything runs as in production, each in its own process through the
CLI: ``simulate --register``, ``producer``, ``sink --group cache`` and ``sink --group orm``. The
bench drives the simulator's scenario through its control endpoint (``POST /step``) at each rate
(scenario steps per second; a step is one trading action and yields a few events) for
``--step-s`` seconds, waits until the pipeline is idle again, and prints per rate:

- offered and stored events/s (bus entries), and whether the rate was kept up with
  (``e2e_figures.KEEP_UP_*``); the saturation point is the last rate kept up with;
- for WebSocket events, the latency from the venue's emission to visibility in AccountCache
  (balance, position) and in SQL (order, trade) as p50/p99/max ms, and by leg (emission to
  producer, producer to bus, bus to storage; see ``e2e_watch``);
- bus events per distinct fact (an event repeating the last state of its order, balance or
  position is not a new fact), the producer's CPU ms per WebSocket event, and its CPU over
  ccxt's own CPU handling its WebSocket frames (``prod/ccxt``, ``e2e_parse``);
- each process's CPU (% of one core) over the step;
- what the producer read over REST (calls by method) and what asked for reads (outbox waits,
  reconnects, dead letters), and the repeated events by kind and source.

``--tick-ms`` sets the time between ``/step`` calls (50 ms): the steps of one call come as one
burst. ``--probe`` times the producer's event-loop callbacks and garbage collections and prints,
per rate, its stalls of 20 ms or more and its collections (``e2e_loop``).

``--profile DIR`` runs py-spy on every process over all the rates and prints where each spent
its time and the producer's cost per message against ccxt's own parsing (``e2e_profile``).

Then the baseline: the events of the run replayed one at a time through the sinks' handlers
(``e2e_baseline``), and the ratio of the best sustained rate kept up with to it; last the
producer's two cost targets (``e2e_targets``: bus events per distinct fact, and the producer's
CPU per message over ccxt's parse cost, both in CPU time read from the producer (``e2e_parse``),
beside the load average; with ``--profile``, py-spy's view of the same ratio too).
``--quick`` is a smoke run (one venue, one account, one low rate for a few seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis

from e2e_baseline import forget_stored, one_at_a_time
from e2e_figures import HEADER, StepFigures, row, step_figures
from e2e_loop import PROBE_DIR, LoopTotals, loop_line, read_loop
from e2e_parse import FrameCpu, free_port, read_frame_cpu
from e2e_profile import profile_ratio, report_profiles, start_profiles, stop_profiles
from e2e_stack import Proc, base_env, cpu_s, start_pipeline, start_simulator
from e2e_targets import bus_per_fact, cpu_over_parse
from e2e_watch import POLL_S, Watcher, now_ms
from fullon_account_service.storage.db import make_engine, make_session_factory
from fullon_account_service.storage.db.migrate import upgrade

DEFAULT_REDIS = "redis://127.0.0.1:6379/8"
DEFAULT_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:5432/test_h8"
DRIVE_TICK_S = 0.05
"""Default time between ``/step`` calls: each call runs the steps due since the last one at once, so
the events come in bursts of ``rate * tick`` steps (``--tick-ms``), which the producer handles one
after the other: the burst's last event waits for all the others."""
QUIET_S = 1.0
"""The pipeline is idle when no new WebSocket event reached the bus and nothing on it was unstored
for this long (REST reads go on in the background at any rate)."""
IDLE_DEADLINE_S = 120.0
STARTED_DEADLINE_S = 600.0
"""Three processes importing ccxt and SQLAlchemy and reading every account: minutes on a busy VM."""


async def wait_idle(watcher: Watcher, procs: list[Proc], deadline_s: float) -> bool:
    """Poll until nothing is unstored and the bus got nothing new for ``QUIET_S``; False at the
    deadline."""
    end = time.monotonic() + deadline_s
    pushed, quiet_since = -1, time.monotonic()
    while time.monotonic() < end:
        for proc in procs:
            proc.check_alive()
        await watcher.poll()
        if watcher.pushed() != pushed or watcher.backlog():
            pushed, quiet_since = watcher.pushed(), time.monotonic()
        elif time.monotonic() - quiet_since >= QUIET_S:
            return True
        await asyncio.sleep(POLL_S)
    print(f"e2e: not idle after {deadline_s:g} s: {watcher.describe()}")
    return False


async def wait_started(watcher: Watcher, procs: list[Proc], accounts: int) -> None:
    """Until the producer has published a first balance of every account (its start-up reads)."""
    end = time.monotonic() + STARTED_DEADLINE_S
    balances = next(key for key in watcher.entries if key.endswith("balance"))
    while len({s.ex_id for s in watcher.entries[balances]}) < accounts:
        if time.monotonic() > end:
            tails = "".join(f"--- {p.name}\n{''.join(p.tail)}" for p in procs)
            late = f"not every account's balance on the bus after {STARTED_DEADLINE_S:g} s"
            raise SystemExit(f"e2e: {late}\n{tails}")
        for proc in procs:
            proc.check_alive()
        await watcher.poll()
        await asyncio.sleep(POLL_S)


@dataclass
class Drive:
    """What driving one rate took: steps run, and the slowest ``/step`` call."""

    steps: int = 0
    slowest_s: float = 0.0
    slowest_n: int = 0


@contextlib.asynccontextmanager
async def polling(watcher: Watcher) -> AsyncIterator[None]:
    """The watcher polls every ``POLL_S`` in its own task while the body runs.

    The driver once polled between its ``/step`` calls; once the simulator took longer than a
    tick per call it posted back to back without polling, and everything stored meanwhile was
    seen (and timed) only when the drive ended or caught up: the equal multi-second maxima of
    both sinks at saturation were that gap, not the pipeline."""
    stop = asyncio.Event()

    async def loop() -> None:
        while not stop.is_set():
            await watcher.poll()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), POLL_S)

    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(loop())
        try:
            yield
        finally:
            stop.set()


async def drive(
    http: aiohttp.ClientSession,
    control: str,
    watcher: Watcher,
    rate: float,
    seconds: float,
    tick_s: float = DRIVE_TICK_S,
) -> Drive:
    """``rate`` scenario steps a second for ``seconds``, watching the bus meanwhile; the steps run."""
    start = time.monotonic()
    done = Drive()
    next_tick = start
    async with polling(watcher):
        while (elapsed := time.monotonic() - start) < seconds:
            due = int(rate * elapsed) - done.steps
            if due > 0:
                t0 = time.monotonic()
                async with http.post(f"{control}/step", params={"n": str(due)}) as response:
                    response.raise_for_status()
                took = time.monotonic() - t0
                if took > done.slowest_s:
                    done.slowest_s, done.slowest_n = took, due
                done.steps += due
            next_tick += tick_s
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
    return done


async def one_rate(
    http: aiohttp.ClientSession,
    control: str,
    watcher: Watcher,
    procs: dict[str, Proc],
    rate: float,
    seconds: float,
    metrics_port: int,
    probe: Path | None,
    tick_s: float,
) -> tuple[str, StepFigures]:
    """One rate's figures, and a line on the measurement itself (watcher gaps, simulator cost)
    and with ``probe`` one on the producer's loop (``e2e_loop``)."""
    marks = {key: len(out) for key, out in watcher.entries.items()}
    loop0 = read_loop(probe) if probe else LoopTotals()
    parse0 = await read_frame_cpu(http, metrics_port)
    cpu0 = {name: cpu_s(p.pid) for name, p in procs.items()}
    started_ms, t0 = now_ms(), time.monotonic()
    watcher.reset_gap()
    driven = await drive(http, control, watcher, rate, seconds, tick_s)
    driven_s = time.monotonic() - t0
    await wait_idle(watcher, list(procs.values()), max(IDLE_DEADLINE_S, 4 * seconds))
    wall = time.monotonic() - t0
    used = {name: cpu_s(p.pid) - cpu0[name] for name, p in procs.items()}
    parse: FrameCpu = await read_frame_cpu(http, metrics_port) - parse0
    seen = [s for key, out in watcher.entries.items() for s in out[marks[key] :]]
    slowest = f"slowest /step {1000 * driven.slowest_s:,.0f} ms ({driven.slowest_n} steps)"
    sim = f"simulator CPU {1000 * used['sim'] / max(1, len(seen)):.3f} ms/event"
    note = f"        watcher: longest gap between polls {watcher.gap_ms:,.0f} ms, {slowest}; {sim}"
    repeats = Counter(f"{s.kind}/{s.source}" for s in seen if s.repeat)
    again = " ".join(f"{what}={n}" for what, n in sorted(repeats.items())) or "none"
    note += f"\n        producer: {parse.activity()}; repeats by kind/source: {again}"
    if probe:
        note += "\n" + loop_line(loop0, read_loop(probe))
    return note, step_figures(
        seen,
        steps_per_s=rate,
        started_ms=started_ms,
        driven_s=driven_s,
        cpu={name: 100.0 * u / wall for name, u in used.items()},
        producer_cpu_s=used["producer"],
        parse_cpu_s=parse.cpu_s,
    )


def options() -> argparse.Namespace:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or DEFAULT_REDIS)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE)
    parser.add_argument("--rates", default="25,50,100,200,300,400,600", help="scenario steps/s, rising")
    parser.add_argument("--step-s", type=float, default=20.0, help="seconds at each rate")
    parser.add_argument("--accounts", type=int, default=3, help="accounts per venue")
    parser.add_argument("--venues", default="kraken,bybit,hyperliquid")
    parser.add_argument("--seed", type=int, default=None, help="scenario seed (default: random, printed)")
    parser.add_argument("--baseline", type=int, default=3_000, help="events the baseline replays")
    parser.add_argument("--stop-after-saturation", type=int, default=1, help="rates missed before stopping")
    parser.add_argument("--profile", type=Path, help="py-spy the processes into DIR")
    parser.add_argument("--tick-ms", type=float, default=1000 * DRIVE_TICK_S, help="time between /step calls")
    parser.add_argument("--probe", action="store_true", help="time the producer's loop callbacks and GC")
    parser.add_argument("--quick", action="store_true", help="smoke run: one account, one low rate, seconds")
    args = parser.parse_args()
    if args.quick:
        args.rates, args.step_s, args.accounts, args.venues, args.baseline = "5", 3.0, 1, "bybit", 200
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    if args.seed is None:
        args.seed = random.randrange(1_000_000)
    return args


async def main(args: argparse.Namespace) -> None:
    rates = [float(r) for r in args.rates.split(",")]
    tag = uuid.uuid4().hex[:8]
    prefix = f"e2e:{tag}:"
    each = f"{args.step_s:g} s per rate, a /step call every {args.tick_ms:g} ms"
    print(f"e2e: seed {args.seed}, {args.venues} x {args.accounts} accounts, {each}")
    print(f"e2e: cpus {os.cpu_count()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.database_url.startswith("sqlite"):
        Path(args.database_url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    await upgrade(args.database_url)
    engine = make_engine(args.database_url)
    factory = make_session_factory(engine)
    redis = aioredis.Redis.from_url(args.redis_url)
    with tempfile.TemporaryDirectory(prefix="e2e-") as tmp:
        cwd = Path(tmp)
        env = base_env(cwd, prefix, args.redis_url, args.database_url)
        sim, info = await start_simulator(env, cwd, args.venues, args.accounts, args.seed)
        procs: dict[str, Proc] = {}
        try:
            ex_ids = sorted(int(n) for n in json.loads(info.secrets.read_text()))
            await forget_stored(factory, redis, ex_ids)
            env["ACCOUNT_SECRETS_FILE"] = str(info.secrets)
            env["ACCOUNT_EXCHANGE_OVERRIDES"] = str(info.overrides)
            ex_args = [a for ex_id in ex_ids for a in ("--ex-id", str(ex_id))]
            metrics_port = free_port()
            producer_env = {"ACCOUNT_METRICS_PORT": str(metrics_port)}
            probe = cwd / "loop.json" if args.probe else None
            if probe:
                path = os.pathsep.join(filter(None, [str(PROBE_DIR), os.environ.get("PYTHONPATH")]))
                producer_env |= {"PYTHONPATH": path, "E2E_LOOP_PROBE": str(probe)}
            pipeline = await start_pipeline(env, cwd, ex_args, producer_env)
            procs = {"producer": pipeline[0], "cache": pipeline[1], "orm": pipeline[2], "sim": sim}
            watcher = Watcher(redis, prefix)
            async with aiohttp.ClientSession() as http:
                await wait_started(watcher, list(procs.values()), len(ex_ids))
                await drive(http, info.control_url, watcher, max(1.0, rates[0] / 5), 2.0)
                if not await wait_idle(watcher, list(procs.values()), IDLE_DEADLINE_S):
                    raise SystemExit("e2e: the pipeline did not settle after start-up")
                watcher.keep_raw = watcher.total() + args.baseline
                print(f"e2e: warmed up ({watcher.total():,} events on the bus)\n")
                spies = await start_profiles(procs, args.profile) if args.profile else []
                print(HEADER)
                results: list[StepFigures] = []
                for rate in rates:
                    note, figures = await one_rate(
                        http,
                        info.control_url,
                        watcher,
                        procs,
                        rate,
                        args.step_s,
                        metrics_port,
                        probe,
                        args.tick_ms / 1000,
                    )
                    results.append(figures)
                    print(row(figures), flush=True)
                    print(note, flush=True)
                    missed = [f for f in results if not f.kept_up]
                    if len(missed) >= args.stop_after_saturation and not results[-1].kept_up:
                        break
                await stop_profiles(spies)
            for proc in pipeline:
                await proc.stop()
            replay = watcher.raw[len(watcher.raw) - min(len(watcher.raw), args.baseline) :]
            await forget_stored(factory, redis, ex_ids)
            base = await one_at_a_time(factory, redis, replay)
            report(results, base, len(replay))
            profiled = ""
            if args.profile:
                report_profiles(args.profile, list(procs))
                profiled = profile_ratio(args.profile)
            print()
            for target in (bus_per_fact(results), cpu_over_parse(results, os.getloadavg(), profiled)):
                print(target.line())
        finally:
            for proc in procs.values():
                await proc.stop()
            await sim.stop()
            keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()
            await engine.dispose()


def report(results: list[StepFigures], base: float, replayed: int) -> None:
    kept = [f for f in results if f.kept_up]
    best = max(kept, key=lambda f: f.sustained_per_s, default=None)
    print()
    if best is None:
        print("saturation: no rate was kept up with")
    else:
        beyond = next((f for f in results if f.steps_per_s > best.steps_per_s and not f.kept_up), None)
        limit = f", not at {beyond.steps_per_s:g} steps/s" if beyond else " (no rate tried was missed)"
        rate = f"{best.steps_per_s:g} steps/s = {best.sustained_per_s:,.0f} events/s"
        print(f"saturation: kept up at {rate}{limit}")
    shape = f"seed's shape, {replayed:,} events one at a time to cache and SQL"
    print(f"baseline ({shape}): {base:,.0f} events/s")
    if best is not None:
        print(f"ratio: x{best.sustained_per_s / base:.1f} (best sustained rate kept up with / baseline)")


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    asyncio.run(main(options()))
