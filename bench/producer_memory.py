"""RSS per account of one producer process, shared markets vs one client loading its own markets.

Not a timed test. The parent runs the simulator (``--venue``, 1,000 accounts) and, for each
account count and mode, starts a fresh child process that builds that many account clients
against it and reports its RSS growth:

- ``shared``: the producer's way: ``SessionRegistry`` -> ``ClientFactory`` (one market load per
  venue, one aiohttp session and SSL context for all clients) + a normaliser per account;
- ``baseline``: one plain ccxt.pro client per account, each with its own session, loading its
  own markets.
Every client makes one ``fetch_balance`` so its HTTP machinery is really in use. WebSocket
connections are not opened (they cost the same in both modes).

    uv run python bench/producer_memory.py [--venue kraken] [--counts 10,100,1000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import ccxt.pro
import psutil

from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.clients import ClientFactory, strip_credentials
from fullon_account_service.producers.credentials import CredentialResolver
from fullon_account_service.producers.session import SessionRegistry
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

MIB = 1024 * 1024


def rss() -> int:
    gc.collect()
    return int(psutil.Process().memory_info().rss)


async def _gathered(coros: list[Any], chunk: int = 50) -> None:
    for i in range(0, len(coros), chunk):
        await asyncio.gather(*coros[i : i + chunk])


async def child(mode: str, venue: str, configs: list[dict[str, Any]]) -> dict[str, float]:
    n = len(configs)
    overrides = {venue: {**strip_credentials(configs[0]), "rateLimit": 1}}
    factory = ClientFactory(overrides)
    # warm-up: imports, the ccxt class, one market load, so both modes start from the same floor
    warm = getattr(ccxt.pro, venue)(dict(configs[0], rateLimit=1))
    await warm.load_markets()
    await warm.close()
    before = rss()
    clients: list[Any] = []
    if mode == "shared":
        env = {}
        for i, config in enumerate(configs):
            env[f"EX_ID_{i}_KEY"] = config.get("apiKey") or config["walletAddress"]
            env[f"EX_ID_{i}_SECRET"] = config.get("secret") or config["privateKey"]
        registry = SessionRegistry(factory, CredentialResolver(env))
        for i in range(n):
            clients.append((await registry.acquire(AccountRef(ex_id=i, uid=1, venue=venue))).client)
    else:
        for config in configs:
            client = getattr(ccxt.pro, venue)(dict(config, rateLimit=1, timeout_on_exit=0))
            await client.load_markets()
            clients.append(client)
    await _gathered([c.fetch_balance() for c in clients])
    after = rss()
    for client in clients:
        await client.close()
    await factory.close()
    return {"accounts": n, "mib_per_account": (after - before) / n / MIB, "rss_mib": after / MIB}


def _write_configs(configs: list[dict[str, Any]]) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(configs, f)
    return f.name


async def parent(venue: str, counts: list[int]) -> None:
    config = ScenarioConfig(venues=(venue,), accounts_per_venue=max(counts), seed=1)
    async with Simulator(config) as sim:
        configs = [sim.client_config(a) for a in sim.world.accounts_of(venue)]
        rows = []
        for n in counts:
            path = _write_configs(configs[:n])
            result: dict[str, dict[str, float]] = {}
            for mode in ("shared", "baseline"):
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    __file__,
                    "--child",
                    mode,
                    "--venue",
                    venue,
                    "--configs",
                    path,
                    stdout=subprocess.PIPE,
                )
                out, _ = await proc.communicate()
                result[mode] = json.loads(out.decode().strip().splitlines()[-1])
            os.unlink(path)
            rows.append((n, result["shared"], result["baseline"]))
    print(f"venue {venue}; RSS growth per account (MiB), one process each")
    print("| accounts | shared (producer) | baseline (own markets) | baseline / shared | producer RSS MiB |")
    print("|---------:|------------------:|-----------------------:|------------------:|-----------------:|")
    for n, shared, base in rows:
        ratio = (
            base["mib_per_account"] / shared["mib_per_account"]
            if shared["mib_per_account"] > 0
            else float("inf")
        )
        print(
            f"| {n:>8} | {shared['mib_per_account']:>17.3f} | {base['mib_per_account']:>22.3f} "
            f"| {ratio:>16.1f}x | {shared['rss_mib']:>16.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--venue", default="kraken", choices=("kraken", "bybit", "hyperliquid"))
    parser.add_argument("--counts", default="10,100,1000")
    parser.add_argument("--child", choices=("shared", "baseline"))
    parser.add_argument("--configs")
    args = parser.parse_args()
    if args.child:
        configs = json.loads(Path(args.configs).read_text())
        print(json.dumps(asyncio.run(child(args.child, args.venue, configs))))
        return
    asyncio.run(parent(args.venue, [int(c) for c in args.counts.split(",")]))


if __name__ == "__main__":
    main()
