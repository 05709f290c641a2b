"""The outbox's CPU per event against its linger, same schedule, same run, real Redis.

    REDIS_URL=redis://127.0.0.1:6379/15 uv run python bench/outbox_linger.py [--rates 300,1500]
        [--seconds 4] [--lingers 0,0.002,0.005]

Messages of one or two events (an order, every third with its fill) arrive at the given rate with
exponential gaps (a seeded schedule, the same for every variant) and are spread over 9 writer
tasks, as 9 accounts' WebSocket loops put them. Each variant runs the schedule twice: once through
a real ``Outbox`` and ``Publisher``, once with a no-op put; the outbox's CPU per event is the
difference of the two process CPU times (``time.process_time``: user + system, so the loopback
socket's kernel work counts) over the events. Linger 0 is the outbox without the wait (one more
event-loop turn). Variants alternate per rate; each rate is printed with the load average.
Keys live under a per-run prefix and are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time

import redis.asyncio as aioredis

from fullon_account_service.bus import Publisher
from fullon_account_service.contract import Envelope
from fullon_account_service.producers.outbox import Outbox
from samples import T0, payload, wrap

WRITERS = 9
Schedule = list[tuple[float, int, list[Envelope]]]


def schedule(rate: float, seconds: float, seed: int = 7) -> Schedule:
    rnd = random.Random(seed)
    at, out, i = 0.0, [], 0
    messages_per_s = rate / (4 / 3)  # every third message carries a fill too
    while at < seconds:
        at += rnd.expovariate(messages_per_s)
        ex_id = 1 + i % WRITERS
        events = [wrap(payload(i, "order"), T0 + i, ex_id=ex_id)]
        if i % 3 == 0:
            events.append(wrap(payload(3 * i, "trade"), T0 + i, ex_id=ex_id))
        out.append((at, rnd.randrange(WRITERS), events))
        i += 1
    return out


async def run(url: str, plan: Schedule, linger_s: float | None) -> tuple[float, int, int]:
    """(process CPU seconds, events, round trips); ``linger_s`` None: the no-op put."""
    redis = aioredis.Redis.from_url(url)
    prefix = f"bench-linger:{os.getpid()}:{time.monotonic_ns()}:"
    publisher = Publisher(redis, prefix=prefix)
    outbox = Outbox(publisher, redis, prefix=prefix, linger_s=linger_s or 0.0)
    outbox.start()
    trips = 0
    publish = publisher.publish

    async def counted(envelopes: list[Envelope], before: tuple[()] = ()) -> list[str]:
        nonlocal trips
        trips += 1
        return await publish(envelopes, before)

    publisher.publish = counted  # type: ignore[method-assign,assignment]
    queues: list[asyncio.Queue[list[Envelope] | None]] = [asyncio.Queue() for _ in range(WRITERS)]
    events = 0

    async def writer(queue: asyncio.Queue[list[Envelope] | None]) -> None:
        nonlocal events
        while (batch := await queue.get()) is not None:
            if linger_s is not None:
                await outbox.put(batch)
            events += len(batch)

    loop = asyncio.get_running_loop()
    async with asyncio.TaskGroup() as tasks:
        for queue in queues:
            tasks.create_task(writer(queue))
        await asyncio.sleep(0.05)
        started, t0 = time.process_time(), loop.time() + 0.01
        for at, w, batch in plan:
            loop.call_at(t0 + at, queues[w].put_nowait, batch)
        await asyncio.sleep(plan[-1][0] + 0.05)
        for queue in queues:
            queue.put_nowait(None)
    await outbox.drain(10)
    cpu = time.process_time() - started
    await outbox.close()
    keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()
    return cpu, events, trips


async def main(args: argparse.Namespace) -> None:
    lingers = [float(x) for x in args.lingers.split(",")]
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| events/s | linger ms | events per round trip | outbox CPU us/event | vs linger 0 |")
    print("|---:|---:|---:|---:|---:|")
    for rate in (float(r) for r in args.rates.split(",")):
        plan = schedule(rate, args.seconds)
        costs: dict[float, float] = {}
        for linger in lingers:
            alone, _, _ = await run(args.redis_url, plan, None)
            cpu, events, trips = await run(args.redis_url, plan, linger)
            costs[linger] = (cpu - alone) / events * 1e6
            ratio = f"x{costs[linger] / costs[lingers[0]]:.2f}"
            print(
                f"| {rate:,.0f} | {linger * 1e3:g} | {events / trips:.2f} | {costs[linger]:.1f} | {ratio} |"
            )
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"))
    parser.add_argument("--rates", default="300,1500", help="events/s")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--lingers", default="0,0.002,0.005", help="seconds; the first is the baseline")
    asyncio.run(main(parser.parse_args()))
