"""Buffered publishing: events wait here while Redis is away, and nothing is dropped.

Collectors ``put`` envelopes and go on; one flusher task publishes them in batches (one pipeline
each) and retries a failed batch with backoff and jitter until Redis answers again. The buffer is
bounded: when it is full, ``put`` waits, which slows the WebSocket loops instead of growing memory.
``publish`` additionally waits until its envelopes are on the bus: the fill poller uses it so the
cursor never moves past an unpublished fill. Dead letters for bad venue payloads go the same way.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis

from fullon_account_service.bus.deadletter import dead_letter
from fullon_account_service.bus.publisher import Publisher
from fullon_account_service.contract import Envelope
from fullon_account_service.logs import get_logger
from fullon_account_service.metrics.sensor import NULL_SENSOR, Sensor
from fullon_account_service.producers.normalise import DeadPayload
from fullon_account_service.producers.tasks import TaskGroup

_log = get_logger("producers.outbox")


@dataclass(slots=True)
class _Item:
    envelope: Envelope
    done: asyncio.Future[None] | None


class Outbox:
    def __init__(
        self,
        publisher: Publisher,
        redis: aioredis.Redis,
        *,
        prefix: str,
        sensor: Sensor = NULL_SENSOR,
        max_pending: int = 100_000,
        batch_size: int = 500,
        retry_delay_s: float = 0.2,
        max_retry_delay_s: float = 5.0,
    ) -> None:
        self._publisher = publisher
        self._redis = redis
        self._prefix = prefix
        self._sensor = sensor
        self._max = max_pending
        self._batch = batch_size
        self._retry = retry_delay_s
        self._max_retry = max_retry_delay_s
        self._items: deque[_Item] = deque()
        self._dead: deque[DeadPayload] = deque(maxlen=10_000)
        self._wake = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._tasks = TaskGroup("outbox")
        self.published = 0
        self.failures = 0

    @property
    def pending(self) -> int:
        return len(self._items)

    def start(self) -> None:
        if not self._tasks:
            self._tasks.spawn(self._run(), name="outbox-flusher")

    async def put(self, envelopes: Sequence[Envelope], dead: Sequence[DeadPayload] = ()) -> None:
        """Queue for publishing; waits only while the buffer is full."""
        self._dead.extend(dead)
        for envelope in envelopes:
            await self._append(_Item(envelope, None))
        if dead:
            self._wake.set()

    async def publish(self, envelopes: Sequence[Envelope], dead: Sequence[DeadPayload] = ()) -> None:
        """Queue and wait until every envelope is on the bus."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[None]] = []
        self._dead.extend(dead)
        self._wake.set()
        for envelope in envelopes:
            future: asyncio.Future[None] = loop.create_future()
            futures.append(future)
            await self._append(_Item(envelope, future))
        if futures:
            await asyncio.gather(*futures)

    async def _append(self, item: _Item) -> None:
        while len(self._items) >= self._max:
            self._space.clear()
            await self._space.wait()
        self._items.append(item)
        self._wake.set()

    async def _run(self) -> None:
        delay = self._retry
        while True:
            if not self._items and not self._dead:
                self._wake.clear()
                await self._wake.wait()
            try:
                await self._flush_dead()
                await self._flush_batch()
                delay = self._retry
            except Exception as e:  # never lose the flusher: every failure means "retry later"
                self.failures += 1
                _log.warning("publish failed; events kept", pending=len(self._items), error=repr(e))
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, self._max_retry)

    async def _flush_batch(self) -> None:
        batch = [self._items[i] for i in range(min(self._batch, len(self._items)))]
        if not batch:
            return
        await self._publisher.publish([item.envelope for item in batch])
        for _ in batch:
            self._items.popleft()
        self.published += len(batch)
        self._space.set()
        counts: dict[tuple[str, str], int] = {}
        for item in batch:
            key = (item.envelope.kind, item.envelope.exchange)
            counts[key] = counts.get(key, 0) + 1
            if item.done is not None and not item.done.done():
                item.done.set_result(None)
        for (kind, exchange), count in counts.items():
            self._sensor.on_events_published(kind, exchange, count)

    async def _flush_dead(self) -> None:
        while self._dead:
            item = self._dead[0]
            await dead_letter(self._redis, prefix=self._prefix, reason=item.reason, payload=item.payload)
            self._dead.popleft()
            self._sensor.on_dead_letter("producer")

    async def drain(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the buffer to empty; True if it did."""
        try:
            async with asyncio.timeout(timeout_s):
                while self._items or self._dead:
                    self._wake.set()
                    await asyncio.sleep(0.02)
        except TimeoutError:
            return False
        return True

    async def close(self, timeout_s: float = 5.0) -> None:
        if not await self.drain(timeout_s):
            _log.warning("outbox closed with events not published", pending=len(self._items))
        await self._tasks.cancel_all()
        for item in self._items:
            if item.done is not None and not item.done.done():
                item.done.cancel()
