"""Buffered publishing: events wait here while Redis is away, and nothing is dropped.

Collectors ``put`` envelopes (and writes that must precede them: ``side_write``) and go on; one
flusher task publishes them in batches (one pipeline each, the writes ahead of the events) and
retries a failed batch with backoff and jitter until Redis answers again. Woken from idle, the
flusher waits ``linger_s`` (2 ms; less once a batch is full) so that the next messages' events
share the round trip, which costs the producer's CPU far more than an entry does (redis-py and the
loopback socket: ~50 us quiet, more under load); a backlog goes out at once. ``publish`` also
waits until its envelopes are on the bus: the fill poller uses it so the cursor never moves past
an unpublished fill. Dead letters for bad venue payloads go the same way.

Both buffers are bounded and neither drops anything. Events: when ``max_pending`` wait (the
producer's ``ACCOUNT_OUTBOX_MAX_EVENTS``), ``put`` and ``publish`` wait, which slows the WebSocket
loops and the poller instead of growing memory: a producer behind a burst at 100 accounts held
3,636 events here, and a slower one tens of thousands, all made faster than one flusher sends them.
Writers are let in one call at a time, in the order they called (``_admission``, a fair lock that
costs no loop turn while nobody waits): the events reach the bus in the order their states were
checked (``published_state``), as when nothing waited; a writer arriving while room is free must
not pass one still waiting for it.
Dead letters (``dead_buffer``): ``put``/``publish`` wait the same way while ``max_dead`` wait;
``dead_nowait`` (the bad-frame path, called from inside ccxt's reader, which cannot wait) keeps
the letter past the bound and counts it. The sensor sees each wait (``on_backpressure``), each
overflow and the depth.

With a ``PublishedStates`` memory, an order, balance or position event that repeats the state last
queued for it is dropped before it is queued (``published_state``); ``publish`` then also waits
until everything queued before it is on the bus, so its caller may rely on the repeated state
being there.

One bad event never holds the others back: when a batch fails with an error that is not
transient (an event that cannot be encoded, a reply Redis gives for that entry only), its events
are published one by one; an event that fails while others of the batch go through is
dead-lettered with the reason (its bytes kept, so it can be replayed) and the rest are published;
a side write that fails alone is logged and dropped (the next update of its order writes again).
An error every event hits (a wrong key type, a Redis that refuses writes) is not the events'
fault: they stay buffered, the error is logged and the flusher retries with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

import redis.asyncio as aioredis

from fullon_account_service.bus.publisher import Publisher
from fullon_account_service.contract import Envelope
from fullon_account_service.errors import TransientError, should_retry
from fullon_account_service.logs import get_logger
from fullon_account_service.metrics.sensor import NULL_SENSOR, Sensor
from fullon_account_service.producers.dead_buffer import DEAD_LETTERS, DeadLetterBuffer
from fullon_account_service.producers.normalise import DeadPayload
from fullon_account_service.producers.outbox_items import Item, failed, one_by_one
from fullon_account_service.producers.published_state import PublishedStates
from fullon_account_service.producers.side_write import SideWrite
from fullon_account_service.redaction import redact_text
from fullon_account_service.retry import PUBLISH_RETRY, RetryPolicy
from fullon_account_service.supervisor import TaskSupervisor

_log = get_logger("producers.outbox")
EVENTS = "events"
LINGER_S = 0.002
__all__ = ["DEAD_LETTERS", "EVENTS", "Outbox"]


class _Unpublishable(Exception):
    """Every event of a batch failed on its own with a non-transient error: not their fault."""


class Outbox:
    def __init__(
        self,
        publisher: Publisher,
        redis: aioredis.Redis,
        *,
        prefix: str,
        sensor: Sensor = NULL_SENSOR,
        max_pending: int = 100_000,
        max_dead: int = 10_000,
        batch_size: int = 500,
        retry: RetryPolicy = PUBLISH_RETRY,
        states: PublishedStates | None = None,
        linger_s: float = LINGER_S,
    ) -> None:
        self.states = states
        self._linger_s = linger_s
        self._publisher = publisher
        self._sensor = sensor
        self._max = max_pending
        self._batch = batch_size
        self._retry = retry
        self._items: deque[Item] = deque()
        self._inflight = 0
        self._wake = asyncio.Event()
        self._filled = asyncio.Event()
        self._dead = DeadLetterBuffer(redis, prefix=prefix, sensor=sensor, max_dead=max_dead, wake=self._wake)
        self._space = asyncio.Event()
        self._space.set()
        self._admission = asyncio.Lock()
        self._tasks = TaskSupervisor("outbox")
        self.published = 0
        self.failures = 0
        self._queued = 0
        self._settled = 0
        self._progress = asyncio.Event()

    @property
    def pending(self) -> int:
        return len(self._items) + self._inflight

    @property
    def pending_dead(self) -> int:
        return len(self._dead)

    def start(self) -> None:
        if not self._tasks:
            self._tasks.spawn(self._run(), name="outbox-flusher")

    async def put(
        self,
        envelopes: Sequence[Envelope],
        dead: Sequence[DeadPayload] = (),
        before: Sequence[SideWrite] = (),
    ) -> None:
        """Queue for publishing, after the writes ``before``; waits only while a buffer is full."""
        await self._dead.add(dead)
        async with self._admission:
            for write in before:
                await self._append(Item(None, None, write))
            for envelope in self._fresh(envelopes):
                await self._append(Item(envelope, None))

    async def publish(self, envelopes: Sequence[Envelope], dead: Sequence[DeadPayload] = ()) -> None:
        """Queue and wait until every envelope is on the bus (or dead-lettered as unpublishable);
        one dropped as a repeat: until its state, queued earlier, is."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[None]] = []
        await self._dead.add(dead)
        async with self._admission:
            fresh = self._fresh(envelopes)
            for envelope in fresh:
                future: asyncio.Future[None] = loop.create_future()
                futures.append(future)
                await self._append(Item(envelope, future))
            target = self._queued
        if futures:
            await asyncio.gather(*futures)
        if len(fresh) < len(envelopes):
            while self._settled < target:
                self._progress.clear()
                await self._progress.wait()

    def _fresh(self, envelopes: Sequence[Envelope]) -> Sequence[Envelope]:
        return envelopes if self.states is None else self.states.fresh(envelopes)

    def dead_nowait(self, letter: DeadPayload) -> None:
        """Queue a dead letter from code that cannot wait; past ``max_dead`` it is kept and counted."""
        self._dead.add_nowait(letter)

    async def _append(self, item: Item) -> None:
        if len(self._items) >= self._max:
            self._sensor.on_backpressure(EVENTS)
            self._sensor.on_buffer_depth(EVENTS, self.pending)
            while len(self._items) >= self._max:
                self._space.clear()
                await self._space.wait()
        self._items.append(item)
        self._queued += 1
        self._wake.set()
        if len(self._items) >= self._batch:
            self._filled.set()

    async def _run(self) -> None:
        attempts = self._retry.start()
        while True:
            if not self._items and not self._dead:
                self._wake.clear()
                await self._wake.wait()
                await self._linger()
            ok = await self._attempt(self._dead.flush, DEAD_LETTERS)
            ok = await self._attempt(self._flush_batch, EVENTS) and ok
            self._sensor.on_buffer_depth(EVENTS, self.pending)
            self._sensor.on_buffer_depth(DEAD_LETTERS, len(self._dead))
            if ok:
                attempts.reset()
                continue
            await asyncio.sleep(attempts.next())

    async def _linger(self) -> None:
        """Up to ``linger_s`` for more events to share the round trip, unless a batch is full."""
        if len(self._items) >= self._batch:
            return
        self._filled.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._linger_s):
                await self._filled.wait()

    async def _attempt(self, flush: Callable[[], Awaitable[None]], what: str) -> bool:
        """One flush; any failure means "retry later" (the flusher must never die)."""
        try:
            await flush()
        except Exception as e:
            self.failures += 1
            if self.states is not None:
                self.states.forget_all()
            pending = self.pending if what == EVENTS else len(self._dead)
            error = redact_text(repr(e))[:300]
            if should_retry(e):
                _log.warning("publish failed; kept for retry", buffer=what, pending=pending, error=error)
            else:
                _log.error(
                    "publish fails for every entry; kept for retry", buffer=what, pending=pending, error=error
                )
            return False
        return True

    async def _flush_batch(self) -> None:
        batch = [self._items.popleft() for _ in range(min(self._batch, len(self._items)))]
        if not batch:
            return
        self._inflight = len(batch)
        writes = [item.write for item in batch if item.write is not None]
        try:
            try:
                await self._publisher.publish(
                    [item.envelope for item in batch if item.envelope is not None], writes
                )
            except (TransientError, asyncio.CancelledError):
                failed(writes)
                self._restore(batch)
                raise
            except Exception:
                failed(writes)
                await self._isolate(batch)
                return
        finally:
            self._inflight = 0
        self._published(batch)

    async def _isolate(self, batch: list[Item]) -> None:
        """Publish one by one; dead-letter what fails alone while its neighbours go through."""
        sent = await one_by_one(self._publisher, batch)
        refused = [item for item, _ in sent.refused]
        if sent.error is not None:
            self._published(sent.published)
            self._restore(refused + sent.unsent)
            raise sent.error
        if not sent.published:
            self._restore(refused)
            raise _Unpublishable(f"{len(refused)} events: {sent.refused[0][1]!r}")
        self._published(sent.published)
        self._settle(len(refused))
        for item, error in sent.refused:
            self._refused(item, error)
        self._wake.set()

    def _refused(self, item: Item, error: Exception) -> None:
        """An item Redis refuses on its own while its neighbours go through."""
        if item.envelope is None:
            _log.error("write ahead of events refused; dropped", error=redact_text(repr(error))[:300])
            return
        self._dead.unpublishable(item.envelope, error)
        if item.done is not None and not item.done.done():
            item.done.set_result(None)

    def _settle(self, count: int) -> None:
        """``count`` more items left the buffer for good, in the order they were queued."""
        self._settled += count
        self._space.set()
        self._progress.set()

    def _restore(self, items: list[Item]) -> None:
        self._items.extendleft(reversed(items))

    def _published(self, batch: list[Item]) -> None:
        if not batch:
            return
        self._settle(len(batch))
        counts: dict[tuple[str, str], int] = {}
        for item in batch:
            if item.write is not None:
                item.write.written()
            if item.envelope is None:
                continue
            key = (item.envelope.kind, item.envelope.exchange)
            counts[key] = counts.get(key, 0) + 1
            if item.done is not None and not item.done.done():
                item.done.set_result(None)
        for (kind, exchange), count in counts.items():
            self.published += count
            self._sensor.on_events_published(kind, exchange, count)

    async def drain(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the buffer to empty; True if it did."""
        try:
            async with asyncio.timeout(timeout_s):
                while self.pending or len(self._dead):
                    self._wake.set()
                    await asyncio.sleep(0.02)
        except TimeoutError:
            return False
        return True

    async def close(self, timeout_s: float = 5.0) -> None:
        if not await self.drain(timeout_s):
            _log.warning(
                "outbox closed with events not published; the next reconciliation reads them again",
                pending=self.pending,
                dead_letters=len(self._dead),
            )
        await self._tasks.cancel_all()
        for item in self._items:
            if item.done is not None and not item.done.done():
                item.done.cancel()
