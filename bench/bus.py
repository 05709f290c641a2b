"""Bus throughput against raw redis-py loops, same payloads, same run, real Redis.

    REDIS_URL=redis://127.0.0.1:6379/15 uv run python bench/bus.py

Publish: ``Publisher.publish(batch)`` against a pipelined XADD loop of the same already-encoded
bytes (so the bus also pays for msgpack encoding the raw loop does not).
Consume: ``Consumer.run_once`` with a no-op handler against an XREADGROUP + pipelined XACK loop
that does not decode (so the bus also pays for strict decoding), with redis-py's reply parsing as
any plain redis-py loop has it. Every measurement is repeated, bus and raw interleaved, each after
a full garbage collection, and the best rate kept: the machine's noise hits both alike.
Keys live under a per-run prefix and are deleted at the end; nothing else is touched.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence

import redis.asyncio as aioredis

from fullon_account_service.bus import Consumer, Delivery, Publisher, stream_key
from fullon_account_service.contract import KINDS, Envelope, decode, encode
from samples import mixed

BATCHES = (1, 100, 500)
ROUNDS = 7
EVENTS = {1: 2_000, 100: 20_000, 500: 20_000}


async def clear(redis: aioredis.Redis, prefix: str) -> None:
    keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
    if keys:
        await redis.delete(*keys)


def chunks(items: Sequence[Envelope], size: int) -> list[Sequence[Envelope]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def raw_publish(redis: aioredis.Redis, prefix: str, batches: list[Sequence[Envelope]]) -> None:
    prepared = [[(stream_key(prefix, e.kind), encode(e)) for e in batch] for batch in batches]
    for batch in prepared:
        if len(batch) == 1:
            key, data = batch[0]
            await redis.xadd(key, {b"e": data})
            continue
        pipe = redis.pipeline(transaction=False)
        for key, data in batch:
            pipe.xadd(key, {b"e": data})
        await pipe.execute()


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


async def publish_rates(redis: aioredis.Redis, prefix: str, size: int) -> tuple[float, float]:
    envelopes = mixed(EVENTS[size])
    batches = chunks(envelopes, size)
    best = {"raw": 0.0, "bus": 0.0}
    for _ in range(ROUNDS):
        for name, func in (("raw", raw_publish), ("bus", bus_publish)):
            await clear(redis, prefix)
            elapsed = await timed(lambda func=func: func(redis, prefix, batches))  # type: ignore[misc]
            best[name] = max(best[name], len(envelopes) / elapsed)
    return best["raw"], best["bus"]


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


async def main() -> None:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    redis = aioredis.Redis.from_url(url)
    prefix = f"bench:{os.getpid()}:"
    info = await redis.info("server")
    print(f"Redis {info['redis_version']} at {url}; best of {ROUNDS} rounds, events/s; mixed kinds")
    try:
        if "consume" not in sys.argv[1:]:
            print("| publish | batch | raw XADD loop | bus      | bus/raw |")
            print("|---------|-------|---------------|----------|---------|")
            for size in BATCHES:
                raw, bus = await publish_rates(redis, prefix, size)
                print(f"| publish | {size:5} | {raw:13,.0f} | {bus:8,.0f} | {bus / raw:7.0%} |")
        if "publish" not in sys.argv[1:]:
            print()
            print(
                "| consume | batch | raw read+ack | raw + decode | raw unparsed | bus      "
                "| bus/raw | bus/raw+decode | bus/unparsed |"
            )
            print(
                "|---------|-------|--------------|--------------|--------------|----------"
                "|---------|----------------|--------------|"
            )
            for size in BATCHES:
                r = await consume_rates(redis, prefix, size)
                raw, dec, unparsed, bus = r["raw"], r["raw+decode"], r["unparsed"], r["bus"]
                print(
                    f"| consume | {size:5} | {raw:12,.0f} | {dec:12,.0f} | {unparsed:12,.0f} | {bus:8,.0f} "
                    f"| {bus / raw:7.0%} | {bus / dec:14.0%} | {bus / unparsed:12.0%} |"
                )
    finally:
        await clear(redis, prefix)
        await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main())
