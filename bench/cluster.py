"""Bus throughput on one Redis node against a 3-master Redis Cluster with 1, 3 and 6 partitions,
and lease takeover after a producer's kill on both.

    uv run python bench/cluster.py [--runs N] [--events N]

Starts its own servers on free loopback ports, so nothing shared is touched: one plain
``redis-server`` (the baseline) and a cluster of 3 masters with a replica each
(``cluster_servers.LocalCluster``). Each configuration moves the same events through the bus the
way a deployment does: ``PUBLISHERS`` tasks publish batches of ``BATCH`` trades of ``ACCOUNTS``
accounts while ``CONSUMERS`` consumers of one group read them (no-op handler) until all were
handled; the rate is events over that whole time. Configurations are interleaved within a run and
each is the best of ``ROUNDS`` rounds, so machine noise hits all alike; ratios are against the
single node of the same run. One process drives everything: on a small machine the client's CPU,
not Redis, is the limit, and the figures say what the cluster costs that client (slot routing,
one read per slot) more than what it adds in server capacity.

Lease takeover in the same run: ``leases.measure_takeover`` (3 lease pools over 30 keys, one
killed; seconds until the others hold all its keys) at a TTL of ``TAKEOVER_TTL_S``, on the single
node and on the cluster. ``bench/leases.py`` varies the TTL and compares a graceful stop.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import redis
import redis.asyncio as aioredis

from cluster_servers import LocalCluster
from fullon_account_service.bus import Consumer, Delivery, Publisher
from fullon_account_service.contract import Envelope
from fullon_account_service.redis_client import cluster_client
from leases import measure_takeover
from private_servers import free_port, redis_argv, wait_until
from samples import T0, payload, wrap
from spread import runs_option, spread

ACCOUNTS = 60
BATCH = 100
PUBLISHERS = 4
CONSUMERS = 3
ROUNDS = 3
CONFIGS = (("single node", 1), ("cluster", 1), ("cluster", 3), ("cluster", 6))
TAKEOVER_TTL_S = 2.0
TAKEOVER_RENEW_S = 0.5


def trades(n: int) -> list[Envelope]:
    return [wrap(payload(i, "trade"), T0 + i, ex_id=1 + i % ACCOUNTS) for i in range(n)]


async def move(client: aioredis.Redis, events: Sequence[Envelope], partitions: int, prefix: str) -> float:
    """Publish and consume ``events`` at once; events per second over the whole move."""
    handled = 0
    done = asyncio.Event()

    async def handler(batch: Sequence[Delivery]) -> None:
        nonlocal handled
        handled += len(batch)
        if handled >= len(events):
            done.set()

    consumers = [
        Consumer(
            client,
            prefix=prefix,
            group="bench",
            consumer=f"c{i}",
            kinds=("trade",),
            handler=handler,
            block_ms=50,
            partitions=partitions,
        )
        for i in range(CONSUMERS)
    ]
    await consumers[0].ensure_groups()
    publisher = Publisher(client, prefix=prefix, partitions=partitions)
    stop = asyncio.Event()
    gc.collect()
    start = time.perf_counter()
    async with asyncio.TaskGroup() as tasks:
        for consumer in consumers:
            tasks.create_task(consumer.run(stop))
        async with asyncio.TaskGroup() as publishing:
            for p in range(PUBLISHERS):
                mine = events[p::PUBLISHERS]
                publishing.create_task(publish_all(publisher, mine))
        await done.wait()
        elapsed = time.perf_counter() - start
        stop.set()
    return len(events) / elapsed


async def publish_all(publisher: Publisher, events: Sequence[Envelope]) -> None:
    for i in range(0, len(events), BATCH):
        await publisher.publish(events[i : i + BATCH])


async def one_run(single_url: str, cluster: LocalCluster, events: Sequence[Envelope]) -> dict[str, float]:
    best: dict[str, float] = {}
    for round_no in range(ROUNDS):
        for name, partitions in CONFIGS:
            label = f"{name}, {partitions} partition{'s' if partitions > 1 else ''}"
            client = cluster_client(cluster.url) if name == "cluster" else aioredis.Redis.from_url(single_url)
            try:
                rate = await move(client, events, partitions, f"bench:{round_no}:")
            finally:
                await client.flushdb()
                await client.aclose()
            best[label] = max(best.get(label, 0.0), rate)
    return best


async def takeovers(single_url: str, cluster: LocalCluster) -> dict[str, float]:
    """Seconds from a lease pool's kill until the others hold its keys, per Redis."""
    found: dict[str, float] = {}
    for name in ("single node", "cluster"):
        client = cluster_client(cluster.url) if name == "cluster" else aioredis.Redis.from_url(single_url)
        try:
            found[name] = await measure_takeover(client, ttl_s=TAKEOVER_TTL_S, renew_s=TAKEOVER_RENEW_S)
        finally:
            await client.aclose()
    return found


def start_single(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    folder = root / "single"
    folder.mkdir()
    proc = subprocess.Popen(redis_argv(port, folder), start_new_session=True)
    try:
        wait_until("single node answering", redis.Redis(port=port).ping)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc, f"redis://127.0.0.1:{port}/0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    runs_option(parser)
    parser.add_argument("--events", type=int, default=20_000, help="events moved per round")
    args = parser.parse_args()
    events = trades(args.events)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        single, url = start_single(root)
        cluster = LocalCluster(root / "cluster")
        try:
            cluster.start()
            results = [asyncio.run(one_run(url, cluster, events)) for _ in range(args.runs)]
            taken = [asyncio.run(takeovers(url, cluster)) for _ in range(args.runs)]
        finally:
            cluster.stop()
            single.kill()
            single.wait()
    baseline = "single node, 1 partition"
    print(f"{args.events:,} trades of {ACCOUNTS} accounts, {PUBLISHERS} publishers (batches of {BATCH}),")
    print(f"{CONSUMERS} consumers of one group; {args.runs} runs, each the best of {ROUNDS} rounds;")
    print("median (min-max)")
    print("| Redis | events/s | vs single node |")
    print("|---|---|---|")
    for label in results[0]:
        rates = [r[label] for r in results]
        ratios = [r[label] / r[baseline] for r in results]
        print(f"| {label} | {spread(rates)} | {spread(ratios, '.2f')} |")
    print()
    ttl, renew = TAKEOVER_TTL_S, TAKEOVER_RENEW_S
    print(f"lease takeover after a kill, TTL {ttl:g} s, renewal {renew:g} s; median (min-max)")
    print("| Redis | seconds | x TTL |")
    print("|---|---|---|")
    for name in taken[0]:
        seconds = [t[name] for t in taken]
        print(
            f"| {name} | {spread(seconds, '.2f')} | {spread([s / TAKEOVER_TTL_S for s in seconds], '.2f')} |"
        )


if __name__ == "__main__":
    main()
