"""The outbox's linger: a flusher woken from idle waits for more events to share the round trip,
ends the wait as soon as a batch is full, and never lingers over a backlog. The linger here is
a minute, so nothing depends on timing: every wait below ends on a full batch or a backlog."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import redis.asyncio as aioredis

from factories import normalised_fills
from fullon_account_service.bus.publisher import PipelineWrite, Publisher
from fullon_account_service.bus.streams import stream_key
from fullon_account_service.contract import Envelope
from fullon_account_service.producers.outbox import Outbox
from fullon_account_service.settings import Settings

MINUTE = 60.0


class Counting(Publisher):
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        super().__init__(redis, prefix=prefix)
        self.batches: list[int] = []

    async def publish(self, envelopes: Sequence[Envelope], before: Sequence[PipelineWrite] = ()) -> list[str]:
        self.batches.append(len(envelopes))
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
    outbox = Outbox(publisher, redis_client, prefix=prefix, batch_size=3, linger_s=MINUTE)
    outbox.start()
    await _turns()  # the flusher waits, idle
    await outbox.put(_fills(1, 1))
    await _turns()
    await outbox.put(_fills(2, 1))
    await _turns()
    assert publisher.batches == [] and outbox.pending == 2
    await outbox.put(_fills(3, 1))
    assert await outbox.drain(10)
    assert publisher.batches == [3]
    assert await redis_client.xlen(stream_key(prefix, "trade")) == 3
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
