"""The outbox's linger: a flusher woken from idle waits for more events to share the round trip
only while writers have been calling faster than the linger, ends the wait as soon as a batch is
full, and never lingers over a backlog or after a round trip that events queued behind. The linger
here is a minute and the writers' clock is a fake, so nothing depends on timing: every wait below
ends on a full batch or a backlog, or there is none."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import redis.asyncio as aioredis

from factories import normalised_fills
from fullon_account_service.bus.publisher import PipelineWrite, Publisher
from fullon_account_service.bus.streams import ENTRY_FIELD, stream_key
from fullon_account_service.contract import Envelope, decode
from fullon_account_service.producers.outbox import Outbox
from fullon_account_service.settings import Settings

MINUTE = 60.0


class Clock:
    """The writers' clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Counting(Publisher):
    """Counts each batch; while ``hold`` is clear, a round trip stays in flight."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        super().__init__(redis, prefix=prefix)
        self.batches: list[int] = []
        self.hold = asyncio.Event()
        self.hold.set()

    async def publish(self, envelopes: Sequence[Envelope], before: Sequence[PipelineWrite] = ()) -> list[str]:
        self.batches.append(len(envelopes))
        await self.hold.wait()
        return await super().publish(envelopes, before)


def _fills(ex_id: int, n: int) -> list[Envelope]:
    return normalised_fills(n, ex_id=ex_id, tag=f"L{ex_id}-")


async def _turns(n: int = 5) -> None:
    """Let the flusher run as far as it can without time passing."""
    for _ in range(n):
        await asyncio.sleep(0)


async def test_events_queued_while_the_flusher_lingers_share_one_batch(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    prefix = settings.stream_prefix
    publisher = Counting(redis_client, prefix)
    clock = Clock()
    outbox = Outbox(publisher, redis_client, prefix=prefix, batch_size=3, linger_s=MINUTE, clock=clock)
    outbox.start()
    await outbox.put(_fills(9, 1))  # the first call of all: nothing came before it
    assert await outbox.drain(10)
    clock.now += 1.0  # within the linger of the call before: more are likely to follow
    await outbox.put(_fills(1, 1))
    await _turns()
    await outbox.put(_fills(2, 1))
    await _turns()
    assert publisher.batches == [1] and outbox.pending == 2
    await outbox.put(_fills(3, 1))
    assert await outbox.drain(10)
    assert publisher.batches == [1, 3]
    assert await redis_client.xlen(stream_key(prefix, "trade")) == 4
    await outbox.close()


async def test_a_lone_event_goes_at_once(redis_client: aioredis.Redis, settings: Settings) -> None:
    """Woken by a call that came after a quiet gap longer than the linger, the flusher sends at
    once: a minute's linger would outlast the drain."""
    prefix = settings.stream_prefix
    publisher = Counting(redis_client, prefix)
    clock = Clock()
    outbox = Outbox(publisher, redis_client, prefix=prefix, batch_size=3, linger_s=MINUTE, clock=clock)
    outbox.start()
    await outbox.put(_fills(1, 1))
    assert await outbox.drain(10)
    clock.now += 2 * MINUTE
    await outbox.publish(_fills(2, 1))
    assert publisher.batches == [1, 1]
    assert await redis_client.xlen(stream_key(prefix, "trade")) == 2
    await outbox.close()


async def test_events_queued_behind_a_round_trip_go_together_at_once(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    """Events that came while a batch was in flight go in the next round trip without a linger,
    however close together the calls were, and in the order they were queued."""
    prefix = settings.stream_prefix
    publisher = Counting(redis_client, prefix)
    clock = Clock()
    outbox = Outbox(publisher, redis_client, prefix=prefix, batch_size=10, linger_s=MINUTE, clock=clock)
    outbox.start()
    publisher.hold.clear()
    await outbox.put(_fills(1, 1))
    await _turns()
    assert publisher.batches == [1]  # in flight
    queued = [_fills(ex_id, 1) for ex_id in (2, 3)]
    for events in queued:
        clock.now += 0.001
        await outbox.put(events)
    publisher.hold.set()
    assert await outbox.drain(10)
    assert publisher.batches == [1, 2]
    entries = await redis_client.xrange(stream_key(prefix, "trade"))
    on_bus = [decode(fields[ENTRY_FIELD]).event_id for _, fields in entries]
    assert on_bus[1:] == [e.event_id for events in queued for e in events]
    await outbox.close()


async def test_a_backlog_goes_out_without_lingering(redis_client: aioredis.Redis, settings: Settings) -> None:
    prefix = settings.stream_prefix
    publisher = Counting(redis_client, prefix)
    outbox = Outbox(publisher, redis_client, prefix=prefix, batch_size=2, linger_s=MINUTE)
    await outbox.put(_fills(1, 5))
    outbox.start()
    assert await outbox.drain(10)
    assert publisher.batches == [2, 2, 1]
    await outbox.close()
