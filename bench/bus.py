"""Bus throughput against raw redis-py loops, same payloads, same run, real Redis.

    REDIS_URL=redis://127.0.0.1:6379/15 uv run python bench/bus.py [publish|consume] [--runs N]

Publish: ``Publisher.publish(batch)`` against a pipelined XADD loop of the same bytes to the same
stream keys, both prepared before the timer starts (so the bus also pays for msgpack encoding and
key lookup the raw loop does not); *raw + encode* is that loop encoding each event inside the
timer, the least any real publisher does.
Consume: ``Consumer.run_once`` with a no-op handler against an XREADGROUP + pipelined XACK loop
that does not decode (so the bus also pays for strict decoding), with redis-py's reply parsing as
any plain redis-py loop has it. Every measurement is repeated, bus and raw interleaved, each after
a full garbage collection, and the best rate of a run kept: the machine's noise hits both alike.
``--runs`` such runs (default 3) are made and each figure printed as ``median (min-max)`` of them,
the ratios computed within each run.
Keys live under a per-run prefix and are deleted at the end; nothing else is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence

import redis.asyncio as aioredis

from fullon_account_service.bus import Consumer, Delivery, Publisher, stream_key
from fullon_account_service.contract import KINDS, Envelope, decode, encode
from samples import mixed
from spread import runs_option, spread

BATCHES = (1, 100, 500)
ROUNDS = 7
EVENTS = {1: 2_000, 100: 20_000, 500: 20_000}


async def clear(redis: aioredis.Redis, prefix: str) -> None:
    keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
    if keys:
        await redis.delete(*keys)


def chunks(items: Sequence[Envelope], size: int) -> list[Sequence[Envelope]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


Prepared = list[list[tuple[str, bytes]]]
"""Per batch, each event's stream key and encoded bytes."""


def prepare(prefix: str, batches: list[Sequence[Envelope]]) -> Prepared:
    keys = {kind: stream_key(prefix, kind) for kind in KINDS}
    return [[(keys[e.kind], encode(e)) for e in batch] for batch in batches]


async def raw_publish(redis: aioredis.Redis, prepared: Prepared) -> None:
    for batch in prepared:
        if len(batch) == 1:
            key, data = batch[0]
            await redis.xadd(key, {b"e": data})
            continue
        pipe = redis.pipeline(transaction=False)
        for key, data in batch:
            pipe.xadd(key, {b"e": data})
        await pipe.execute()


async def raw_encoding_publish(redis: aioredis.Redis, prefix: str, batches: list[Sequence[Envelope]]) -> None:
    await raw_publish(redis, prepare(prefix, batches))


async def bus_publish(redis: aioredis.Redis, prefix: str, batches: list[Sequence[Envelope]]) -> None:
    publisher = Publisher(redis, prefix=prefix)
    for batch in batches:
        await publisher.publish(batch)


async def raw_consume(
    redis: aioredis.Redis, prefix: str, total: int, batch: int, *, decoding: bool = False
) -> None:
    streams = {stream_key(prefix, kind): ">" for kind in KINDS}
    for stream in streams:
        await redis.xgroup_create(stream, "raw", id="0", mkstream=True)
    seen = 0
    while seen < total:
        reply = await redis.xreadgroup("raw", "c", streams, count=batch)
        ids: defaultdict[bytes, list[bytes]] = defaultdict(list)
        for stream, entries in reply:
            ids[stream].extend(entry_id for entry_id, _ in entries)
            if decoding:
                for _, fields in entries:
                    decode(fields[b"e"])
            seen += len(entries)
        pipe = redis.pipeline(transaction=False)
        for stream, entry_ids in ids.items():
            pipe.xack(stream, "raw", *entry_ids)
        await pipe.execute()


async def bus_consume(redis: aioredis.Redis, prefix: str, total: int, batch: int) -> None:
    async def handler(deliveries: Sequence[Delivery]) -> None:
        return None

    consumer = Consumer(
        redis,
        prefix=prefix,
        group="bus",
        consumer="c",
        kinds=KINDS,
        handler=handler,
        batch_size=batch,
        block_ms=0,
    )
    await consumer.ensure_groups()
    seen = 0
    while seen < total:
        seen += await consumer.run_once()


async def timed(run: Callable[[], Awaitable[None]]) -> float:
    gc.collect()  # the setup's garbage is collected here, not inside whichever loop runs next
    start = time.perf_counter()
    await run()
    return time.perf_counter() - start


async def publish_rates(redis: aioredis.Redis, prefix: str, size: int) -> dict[str, float]:
    envelopes = mixed(EVENTS[size])
    batches = chunks(envelopes, size)
    prepared = prepare(prefix, batches)  # before any timer: the raw loop sends ready bytes
    variants: tuple[tuple[str, Callable[[], Awaitable[None]]], ...] = (
        ("raw", lambda: raw_publish(redis, prepared)),
        ("raw+encode", lambda: raw_encoding_publish(redis, prefix, batches)),
        ("bus", lambda: bus_publish(redis, prefix, batches)),
    )
    best = dict.fromkeys((name for name, _ in variants), 0.0)
    for _ in range(ROUNDS):
        for name, run in variants:
            await clear(redis, prefix)
            best[name] = max(best[name], len(envelopes) / await timed(run))
    return best


async def raw_decoding_consume(redis: aioredis.Redis, prefix: str, total: int, batch: int) -> None:
    await raw_consume(redis, prefix, total, batch, decoding=True)


async def raw_unparsed_consume(redis: aioredis.Redis, prefix: str, total: int, batch: int) -> None:
    """The raw loop with its XREADGROUP replies left unparsed, as the bus reads them: the least
    any redis-py consumer can do, for reference (the target is against the plain raw loop)."""
    unparsed = aioredis.Redis(connection_pool=redis.connection_pool)
    unparsed.set_response_callback("XREADGROUP", lambda response, **options: response)
    await raw_consume(unparsed, prefix, total, batch)


async def consume_rates(redis: aioredis.Redis, prefix: str, size: int) -> dict[str, float]:
    total = EVENTS[size]
    best = {"raw": 0.0, "raw+decode": 0.0, "unparsed": 0.0, "bus": 0.0}
    variants = (
        ("raw", raw_consume),
        ("raw+decode", raw_decoding_consume),
        ("unparsed", raw_unparsed_consume),
        ("bus", bus_consume),
    )
    for _ in range(ROUNDS):
        for name, func in variants:
            await clear(redis, prefix)
            await bus_publish(redis, prefix, chunks(mixed(total), 500))
            elapsed = await timed(lambda func=func: func(redis, prefix, total, size))  # type: ignore[misc]
            best[name] = max(best[name], total / elapsed)
    return best


Rates = dict[int, list[dict[str, float]]]
"""Per batch size, each run's best events/s per variant."""


def column(rates: list[dict[str, float]], num: str, den: str | None = None) -> str:
    if den is None:
        return spread([r[num] for r in rates])
    return spread([r[num] / r[den] for r in rates], ".0%")


def row(
    side: str, size: int, rates: list[dict[str, float]], names: Sequence[str], bases: Sequence[str]
) -> str:
    """Events/s of each variant in ``names``, then the bus's ratio to each of ``bases``."""
    cells = [column(rates, name) for name in names] + [column(rates, "bus", base) for base in bases]
    return f"| {side} | {size} | " + " | ".join(cells) + " |"


async def main(only: str | None, runs: int) -> None:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    redis = aioredis.Redis.from_url(url)
    prefix = f"bench:{os.getpid()}:"
    info = await redis.info("server")
    print(f"Redis {info['redis_version']} at {url}; {runs} runs, each the best of {ROUNDS} rounds;")
    print("events/s and ratios as median (min-max) over the runs; mixed kinds")
    publish: Rates = {size: [] for size in BATCHES}
    consume: Rates = {size: [] for size in BATCHES}
    try:
        for run in range(1, runs + 1):
            for size in BATCHES:
                if only != "consume":
                    publish[size].append(await publish_rates(redis, prefix, size))
                if only != "publish":
                    consume[size].append(await consume_rates(redis, prefix, size))
            print(f"  run {run}/{runs} done", flush=True)
    finally:
        await clear(redis, prefix)
        await redis.aclose()
    if only != "consume":
        print()
        print("| publish | batch | raw XADD loop | raw + encode | bus | bus/raw | bus/raw+encode |")
        print("|---------|------:|--------------:|-------------:|----:|--------:|---------------:|")
        for size, r in publish.items():
            print(row("publish", size, r, ("raw", "raw+encode", "bus"), ("raw", "raw+encode")))
    if only != "publish":
        print()
        print(
            "| consume | batch | raw read+ack | raw + decode | raw unparsed | bus "
            "| bus/raw | bus/raw+decode | bus/unparsed |"
        )
        print(
            "|---------|------:|-------------:|-------------:|-------------:|----:"
            "|--------:|---------------:|-------------:|"
        )
        for size, r in consume.items():
            bases = ("raw", "raw+decode", "unparsed")
            print(row("consume", size, r, (*bases, "bus"), bases))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("only", nargs="?", choices=("publish", "consume"), help="measure one side only")
    runs_option(parser)
    args = parser.parse_args()
    asyncio.run(main(args.only, args.runs))
