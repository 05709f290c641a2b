"""How soon a producer exits after SIGINT or SIGTERM while REST calls are in flight (target 5 s).

    uv run python bench/producer_shutdown.py [--redis-url URL] [--database-url URL] [--runs 3]

Defaults: ``REDIS_URL`` / ``DATABASE_URL`` when set, else Redis db 8 and the PostgreSQL database
``test_h8`` on 127.0.0.1. Per run and signal: ``simulate --register`` (Kraken and Bybit, one
account each) and ``fullon-account producer`` (polling every second, rediscovery 600 s away) as
processes through the CLI. Once the producer published a balance, the signal is sent twice over:

- baseline: nothing held (the producer idle between polls);
- held: every REST answer held 3 s (``POST /faults``), the signal sent after the simulator counted
  two held answers, so calls are in flight.

Printed: seconds from the signal to the exit, median (min-max) over ``--runs``, and held / baseline.
``tests/ops/test_producer_shutdown.py`` checks the behaviour (it exits on its own, its shutdown
steps logged) without reading a clock; this is the figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis

from e2e_stack import STARTUP_S, base_env, spawn, start_simulator
from fullon_account_service.storage.db.migrate import upgrade

DEFAULT_REDIS = "redis://127.0.0.1:6379/8"
DEFAULT_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:5432/test_h8"
HELD_MS = 3000
EXIT_DEADLINE_S = 120.0


async def held_answers(http: aiohttp.ClientSession, control: str) -> int:
    async with http.get(f"{control}/stats") as reply:
        stats = await reply.json()
    return int(stats["faults_injected"]["total"].get("slow_response", 0))


async def one_stop(args: argparse.Namespace, sig: signal.Signals, hold: bool) -> float:
    """Seconds from ``sig`` to the producer's exit."""
    prefix = f"bench-shutdown:{uuid.uuid4().hex[:8]}:"
    redis = aioredis.Redis.from_url(args.redis_url)
    with tempfile.TemporaryDirectory(prefix="shutdown-") as tmp:
        cwd = Path(tmp)
        env = base_env(cwd, prefix, args.redis_url, args.database_url)
        env |= {"ACCOUNT_POLL_INTERVAL": "1", "ACCOUNT_REDISCOVER_INTERVAL": "600"}
        sim, info = await start_simulator(env, cwd, "kraken,bybit", 1, seed=4)
        try:
            ex_ids = sorted(int(n) for n in json.loads(info.secrets.read_text()))
            env["ACCOUNT_SECRETS_FILE"] = str(info.secrets)
            env["ACCOUNT_EXCHANGE_OVERRIDES"] = str(info.overrides)
            producer = await spawn("producer", ["producer", *(f"--ex-id={e}" for e in ex_ids)], env, cwd)
            producer.keep_draining()
            try:
                async with asyncio.timeout(STARTUP_S), aiohttp.ClientSession() as http:
                    while await redis.xlen(f"{prefix}balance") == 0:
                        producer.check_alive()
                        await asyncio.sleep(0.1)
                    if hold:
                        before = await held_answers(http, info.control_url)
                        await http.post(f"{info.control_url}/faults", json={"slow_response_ms": HELD_MS})
                        while await held_answers(http, info.control_url) < before + 2:  # noqa: ASYNC110
                            await asyncio.sleep(0.05)
                sent = time.perf_counter()
                producer.proc.send_signal(sig)
                async with asyncio.timeout(EXIT_DEADLINE_S):
                    code = await producer.proc.wait()
                took = time.perf_counter() - sent
                if code != 0:
                    raise RuntimeError(f"producer exited {code}:\n" + "".join(producer.tail))
                return took
            finally:
                await producer.stop()
        finally:
            await sim.stop()
            await redis.delete(*[f"{prefix}{kind}" for kind in ("balance", "order", "trade", "position")])
            await redis.aclose()


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def main(args: argparse.Namespace) -> None:
    print(f"producer shutdown: cpus {os.cpu_count()}, load average {load()}")
    await upgrade(args.database_url)
    for sig in (signal.SIGINT, signal.SIGTERM):
        figures: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.runs):
            for hold in (False, True):
                figures[hold].append(await one_stop(args, sig, hold))
        base, held = (statistics.median(figures[h]) for h in (False, True))
        spread = {h: f"{statistics.median(v):.2f} s ({min(v):.2f}-{max(v):.2f})" for h, v in figures.items()}
        print(f"{sig.name}: baseline (idle) {spread[False]}; REST held {spread[True]}; x{held / base:.1f}")
    print(f"load average after: {load()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or DEFAULT_REDIS)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE)
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
