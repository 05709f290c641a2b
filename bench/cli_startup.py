"""How long ``fullon-account`` takes to show help, report a configuration error, or run a command
that talks to no exchange, against ``python -c pass`` measured in the same run.

Not a timed test. Each invocation is a fresh process through the installed entry point, against
``REDIS_URL`` / ``DATABASE_URL`` when set (as an operator runs them), else the embedded backends
(a SQLite file in a temporary data directory, migrated once before the rounds, and no Redis:
``health``, ``tail`` and ``dlq list`` then stop at once with exit 2, which is what is timed). With
a Redis, balance anchors of one account are written under a prefix of the bench's own first, so
that ``health`` explains a balance change and reads the database (exit 1: no fill explains it);
the prefix's keys are deleted at the end. Rounds are interleaved (every invocation once per
round) so that noise hits all of them alike, and the median of ``--rounds`` (5) is kept. ``demo
(first frame)`` is the time until the demo's first line reaches its output, the process then
being stopped.

Every ``--help`` is timed: the top level, each command, and each subcommand of a group.

The ``floor:`` rows import only libraries, so a command's time can be told apart from their own
import cost: typer; the database driver alone, which is all the commands that read or write the
database import (``storage.db.plain_sql``); redis-py's asyncio client, which ``health``, ``tail``
and ``dlq`` import; and, for comparison, SQLAlchemy's asyncio extension (it imports the ORM) with
the backend's async dialect and our models, which none of them imports any more.

    uv run python bench/cli_startup.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fullon_account_service.cli.app import command_words

ENTRY = str(Path(sys.executable).with_name("fullon-account"))
BAD = {"ACCOUNT_POLL_INTERVAL": "often"}
BENCH_USER = "bench@cli-startup.local"
ADD = ["accounts", "add", "--exchange", "kraken", "--name", "cli-startup", "--user", BENCH_USER]
PREFIX = f"cli-startup-{os.getpid()}:"
"""The bench's own stream prefix: the anchors it writes touch nothing of a running service."""


Sample = tuple[float, float]
"""(wall seconds, CPU seconds of the child): CPU time is what a busy shared machine inflates least."""


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], env: dict[str, str], expect: set[int], out: list[str] | None = None) -> Sample:
    """``out``, when given, receives what the command printed."""
    start, cpu = time.perf_counter(), _child_cpu()
    done = subprocess.run(argv, env=env, capture_output=True, timeout=300, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in expect:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    if out is not None:
        out.append(done.stdout.decode())
    return elapsed, _child_cpu() - cpu


def add_then_remove(env: dict[str, str]) -> dict[str, Callable[[], Sample]]:
    """Two cases run one after the other: the second removes the account the first added."""
    added: list[str] = []

    def remove() -> Sample:
        found = re.search(r"added ex_id (\d+)", added.pop())
        if found is None:
            raise SystemExit("accounts add printed no ex_id")
        return timed([ENTRY, "accounts", "remove", "--ex-id", found.group(1)], env, {0})

    return {
        "accounts add (a new account)": lambda: timed([ENTRY, *ADD], env, {0}, added),
        "accounts remove (the account added)": remove,
    }


def first_line(argv: list[str], env: dict[str, str]) -> Sample:
    """Wall time to the first line; no CPU figure (the process goes on after it)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        elapsed = time.perf_counter() - start
        if not line:
            raise SystemExit(f"{' '.join(argv)} printed nothing")
        return elapsed, float("nan")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def floors(env: dict[str, str]) -> dict[str, str]:
    """Row name -> the imports it times (see the module docstring)."""
    postgresql = env.get("DATABASE_URL", "").startswith("postgresql")
    driver = "asyncpg" if postgresql else "aiosqlite"
    dialect = f"sqlalchemy.dialects.{'postgresql' if postgresql else 'sqlite'}.{driver}, {driver}"
    engine = f"typer, sqlalchemy.ext.asyncio, {dialect}"
    return {
        "floor: typer": "typer",
        "floor: typer + pydantic": "typer, pydantic",
        "floor: typer + rich + driver": f"typer, rich.console, rich.table, asyncio, {driver}",
        "floor: typer + redis.asyncio": "typer, redis.asyncio",
        "floor: typer + SQLAlchemy async + dialect": engine,
        "floor: ... + our models": f"{engine}, fullon_account_service.storage.db.models",
    }


async def _anchors(redis_url: str, *, write: bool) -> None:
    """One account's balance change with no fill to explain it, its cursors past it; or, with
    ``write`` false, every key of the bench's prefix deleted."""
    import redis.asyncio as aioredis

    from fullon_account_service.producers.cursor import CursorStore
    from fullon_account_service.storage.balance_anchors import BalanceAnchors
    from fullon_account_service.verify.stored_through import LEDGER_CURSOR

    redis = aioredis.Redis.from_url(redis_url)
    try:
        if write:
            await BalanceAnchors(redis, prefix=PREFIX).record(
                [(1, 1_000, {"USD": 10.0}), (1, 2_000, {"USD": 12.5})]
            )
            await CursorStore(redis, prefix=PREFIX).advance(1, 5_000)
            await CursorStore(redis, prefix=PREFIX).named(LEDGER_CURSOR).advance(1, 5_000)
        else:
            keys = [key async for key in redis.scan_iter(match=f"{PREFIX}*")]
            if keys:
                await redis.delete(*keys)
    finally:
        await redis.aclose()


def cases(env: dict[str, str]) -> dict[str, Callable[[], Sample]]:
    bad = {**env, **BAD}
    run: dict[str, Callable[[], Sample]] = {
        "python -c pass (baseline)": lambda: timed([sys.executable, "-c", "pass"], env, {0}),
    }
    for name, modules in floors(env).items():
        run[name] = lambda m=modules: timed([sys.executable, "-c", f"import {m}"], env, {0})
    for words in command_words():
        run[" ".join([*words, "--help"])] = lambda w=words: timed([ENTRY, *w, "--help"], env, {0})
    for words in (
        ["producer"],
        ["demo"],
        ["simulate"],
        ["sink", "--group", "orm"],
        ["tail"],
        ["health"],
        ["dlq", "list"],
        ["accounts", "list"],
        ["db", "current"],
        ["pnl", "--ex-id", "1"],
        ADD,
    ):
        label = "accounts add" if words is ADD else " ".join(words)
        run[f"{label}, configuration error"] = lambda w=words: timed([ENTRY, *w], bad, {2})
    run["accounts list"] = lambda: timed([ENTRY, "accounts", "list"], env, {0})
    run.update(add_then_remove(env))
    run["accounts remove --ex-id 999 (unknown, exit 1)"] = lambda: timed(
        [ENTRY, "accounts", "remove", "--ex-id", "999"], env, {1}
    )
    run["db current"] = lambda: timed([ENTRY, "db", "current"], env, {0})
    run["pnl --ex-id 999 (unknown, exit 2)"] = lambda: timed([ENTRY, "pnl", "--ex-id", "999"], env, {2})
    if env.get("REDIS_URL"):
        run["dlq list"] = lambda: timed([ENTRY, "dlq", "list"], env, {0})
        run["health (explains 1 account: exit 1)"] = lambda: timed([ENTRY, "health"], env, {1})
        run["tail --timeout 0.1"] = lambda: timed([ENTRY, "tail", "--timeout", "0.1"], env, {0})
    else:
        for words in (["dlq", "list"], ["health"], ["tail", "--timeout", "0.1"]):
            run[f"{' '.join(words)}, no Redis (exit 2)"] = lambda w=words: timed([ENTRY, *w], env, {2})
    run["demo (first frame)"] = lambda: first_line([ENTRY, "demo", "--duration", "60"], env)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        env = dict(os.environ) | {
            "ACCOUNT_DATA_DIR": data,
            "ACCOUNT_STREAM_PREFIX": PREFIX,
            "LOG_LEVEL": "WARNING",
            "COLUMNS": "120",
        }
        subprocess.run([ENTRY, "db", "upgrade"], env=env, capture_output=True, check=True)
        redis_url = env.get("REDIS_URL")
        if redis_url:
            asyncio.run(_anchors(redis_url, write=True))
        run = cases(env)
        samples: dict[str, list[Sample]] = {name: [] for name in run}
        try:
            for _ in range(args.rounds):
                for name, case in run.items():
                    samples[name].append(case())
        finally:
            if redis_url:
                asyncio.run(_anchors(redis_url, write=False))
    walls = {name: statistics.median(w for w, _ in values) for name, values in samples.items()}
    cpus = {name: statistics.median(c for _, c in values) for name, values in samples.items()}
    baseline = walls["python -c pass (baseline)"]
    redis = "real Redis" if env.get("REDIS_URL") else "embedded Redis"
    backends = f"{redis}, {'PostgreSQL' if env.get('DATABASE_URL') else 'SQLite'}"
    print(f"median of {args.rounds}, seconds; {backends}; baseline python -c pass = {baseline:.3f} s")
    print(f"| {'invocation':<46} | wall s | over baseline s | x baseline | CPU s |")
    print(f"|{'-' * 48}|--------|-----------------|------------|-------|")
    for name, wall in walls.items():
        cpu = "-" if cpus[name] != cpus[name] else f"{cpus[name]:.2f}"
        print(f"| {name:<46} | {wall:6.2f} | {wall - baseline:15.2f} | {wall / baseline:10.1f} | {cpu:>5} |")


if __name__ == "__main__":
    main()
