"""The outbox drops nothing in memory and one bad event never holds the others back.

Its buffers are bounded: a full buffer makes writers wait (and says so to the sensor), a writer
that cannot wait (the bad-frame path inside ccxt's reader) is kept past the bound and counted. An
event that fails to publish on its own while its neighbours go through is dead-lettered with the
reason; an error every event hits keeps them all buffered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rex

from factories import normalised_fills
from fullon_account_service.bus.publisher import PipelineWrite, Publisher
from fullon_account_service.bus.streams import dead_letter_key, stream_key
from fullon_account_service.contract import Envelope
from fullon_account_service.errors import FatalError
from fullon_account_service.metrics.sensor import Sensor
from fullon_account_service.producers.context import ProducerContext
from fullon_account_service.producers.normalise import DeadPayload
from fullon_account_service.producers.outbox import DEAD_LETTERS, EVENTS, Outbox
from fullon_account_service.settings import Settings
from retry_policies import QUICK


class Recording(Sensor):
    def __init__(self) -> None:
        self.backpressure: list[str] = []
        self.overflow: list[str] = []
        self.depth: dict[str, int] = {}

    def on_backpressure(self, buffer: str) -> None:
        self.backpressure.append(buffer)

    def on_buffer_overflow(self, buffer: str) -> None:
        self.overflow.append(buffer)

    def on_buffer_depth(self, buffer: str, size: int) -> None:
        self.depth[buffer] = size


class DownRedis:
    """A Redis whose XADD fails while ``down`` (what the dead-letter path writes with)."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self.down = True

    async def xadd(self, *args: Any, **kwargs: Any) -> Any:
        if self.down:
            raise rex.ConnectionError("redis is away")
        return await self._redis.xadd(*args, **kwargs)


def _fills(ex_id: int, n: int) -> list[Envelope]:
    return normalised_fills(n, ex_id=ex_id, tag=f"T{ex_id}-")


async def _until(check: Any, timeout_s: float = 60.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():
            await asyncio.sleep(0.01)


async def test_dead_letters_wait_for_room_and_none_is_dropped(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    prefix = settings.stream_prefix
    redis = DownRedis(redis_client)
    sensor = Recording()
    publisher = Publisher(redis_client, prefix=prefix)
    outbox = Outbox(
        publisher,
        redis,
        prefix=prefix,
        sensor=sensor,
        max_dead=5,
        retry=QUICK,
    )
    outbox.start()
    letters = [DeadPayload(reason=f"bad {i}", payload=b"{}") for i in range(12)]
    writer = asyncio.create_task(outbox.put((), letters))
    await _until(lambda: DEAD_LETTERS in sensor.backpressure)
    assert not writer.done() and outbox.pending_dead == 5
    outbox.dead_nowait(DeadPayload(reason="from a reader that cannot wait", payload=b"{}"))
    assert outbox.pending_dead == 6 and sensor.overflow == [DEAD_LETTERS]
    redis.down = False
    async with asyncio.timeout(60):
        await writer
    assert await outbox.drain(10)
    reasons = [f[b"reason"] for _, f in await redis_client.xrange(dead_letter_key(prefix))]
    assert len(reasons) == 13 and set(reasons) >= {f"bad {i}".encode() for i in range(12)}
    await outbox.close()


async def test_events_wait_for_room_and_the_wait_is_counted(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    prefix = settings.stream_prefix
    sensor = Recording()
    publisher = Publisher(redis_client, prefix=prefix)
    outbox = Outbox(publisher, redis_client, prefix=prefix, sensor=sensor, max_pending=3)
    writer = asyncio.create_task(outbox.put(_fills(1, 10)))
    await _until(lambda: EVENTS in sensor.backpressure)
    assert not writer.done() and outbox.pending == 3
    outbox.start()
    async with asyncio.timeout(60):
        await writer
    assert await outbox.drain(10)
    assert await redis_client.xlen(stream_key(prefix, "trade")) == 10
    await outbox.close()


class PoisonPublisher(Publisher):
    """Redis refuses any batch holding the poisoned event; or every batch while ``all_fail``."""

    def __init__(self, redis: aioredis.Redis, prefix: str, poison: str) -> None:
        super().__init__(redis, prefix=prefix)
        self.poison = poison
        self.all_fail = False

    async def publish(self, envelopes: Sequence[Envelope], before: Sequence[PipelineWrite] = ()) -> list[str]:
        if self.all_fail or any(e.event_id == self.poison for e in envelopes):
            raise FatalError("redis publish failed: ResponseError: ERR something about this entry")
        return await super().publish(envelopes, before)


async def test_a_bad_event_at_the_head_is_dead_lettered_and_other_accounts_go_on(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    prefix = settings.stream_prefix
    bad = _fills(1, 1)
    good = _fills(2, 5)
    publisher = PoisonPublisher(redis_client, prefix, poison=bad[0].event_id)
    outbox = Outbox(publisher, redis_client, prefix=prefix, retry=QUICK)
    outbox.start()
    async with asyncio.timeout(60):
        await asyncio.gather(outbox.publish(bad), outbox.publish(good))
    assert await outbox.drain(10)
    assert await redis_client.xlen(stream_key(prefix, "trade")) == 5
    [(_, letter)] = await redis_client.xrange(dead_letter_key(prefix))
    assert b"event not publishable: trade ex_id=1" in letter[b"reason"]
    assert b"ERR something about this entry" in letter[b"reason"]
    assert letter[b"payload"]
    await outbox.close()


async def test_an_error_every_event_hits_keeps_them_all(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    prefix = settings.stream_prefix
    events = _fills(1, 3) + _fills(2, 3)
    publisher = PoisonPublisher(redis_client, prefix, poison="")
    publisher.all_fail = True
    outbox = Outbox(publisher, redis_client, prefix=prefix, retry=QUICK)
    outbox.start()
    await outbox.put(events)
    await _until(lambda: outbox.failures >= 3)
    assert outbox.pending == 6 and await redis_client.xlen(dead_letter_key(prefix)) == 0
    publisher.all_fail = False
    assert await outbox.drain(10)
    assert await redis_client.xlen(stream_key(prefix, "trade")) == 6
    assert await redis_client.xlen(dead_letter_key(prefix)) == 0
    await outbox.close()


async def test_the_producer_outbox_holds_at_most_its_setting_and_the_rest_wait(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    """``ACCOUNT_OUTBOX_MAX_EVENTS`` is the producer's bound: a writer past it waits (its events
    stay with it, not in the outbox), and every event reaches the bus once the flusher runs."""
    sensor = Recording()
    ctx = ProducerContext.from_settings(
        replace(settings, outbox_max_events=4), redis=redis_client, overrides={}, env={}, sensor=sensor
    )
    outbox = ctx.outbox
    first = asyncio.create_task(outbox.put(_fills(1, 6)))
    second = asyncio.create_task(outbox.publish(_fills(2, 3)))
    await _until(lambda: EVENTS in sensor.backpressure)
    assert not first.done() and not second.done() and outbox.pending == 4
    outbox.start()
    async with asyncio.timeout(10):
        await asyncio.gather(first, second)
    assert await outbox.drain(10)
    assert await redis_client.xlen(stream_key(settings.stream_prefix, "trade")) == 9
    await ctx.close()


async def test_a_writer_never_passes_one_waiting_for_room(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    """Events reach the bus in the order their writers called, as when nothing waited: a writer that
    arrives once room was freed goes after the one still waiting for that room."""
    prefix = settings.stream_prefix
    sensor = Recording()
    outbox = Outbox(
        Publisher(redis_client, prefix=prefix), redis_client, prefix=prefix, sensor=sensor, max_pending=2
    )
    first, second = _fills(1, 3), _fills(2, 1)
    waiting = asyncio.create_task(outbox.put(first))
    await _until(lambda: EVENTS in sensor.backpressure)
    outbox._items.clear()  # as the flusher takes a batch: room for two
    outbox._settle(2)
    await outbox.put(second)
    await waiting
    assert [item.envelope for item in outbox._items] == [first[2], second[0]]
    await outbox.close(0)
