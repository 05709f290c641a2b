"""Consumer-group processing with at-least-once delivery.

The handler gets a batch of decoded deliveries; entries are acknowledged only after it returned,
the acknowledgement shielded from cancellation, so a sink that commits then acks never loses an
event and at worst sees one twice. Seeing one twice is harmless because every sink's write is
idempotent on the fact itself, not on ``event_id``: trades insert once per
``(ex_trade_id, ex_order_id)``, orders upsert with monotonic state per ``(ex_id, ex_order_id)``,
and the cache keeps the newest snapshot by exchange time.

Failures (``handling``): bad bytes and entries the handler rejects are dead-lettered at once; a
store that fails every entry alike (down, a table missing) holds the batch and is retried without
burning deliveries; any other failure is isolated entry by entry, and poison is dead-lettered on
its ``max_deliveries``-th delivery. Entries of a consumer that died between read and ack come
back through XAUTOCLAIM after ``claim_idle_ms``, to whoever claims them first.

Read-ahead (``read_ahead=True``, how sinks run): a sink's round is Python work (read, decode, turn
events into rows) followed by waiting for its store (a database write and commit), so the next
round's read starts as soon as the current batch is handed over and runs while the store works;
with ``prepare`` the sink does its own part of the next batch too (``OrmSink.prepare``). The
handler is still called one batch at a time, in the order read, and every entry is acknowledged
only after the handler returned for the batch that holds it: only when the reading happens
changes. In hand at most: the batch being handled and the one read ahead. When the store fails
every entry, the batch read ahead joins the held one and no further batch is read until the store
is back, so a consumer never holds more than two batches. Stopping finishes the batch read ahead
before returning (its entries are delivered to this consumer already), unless the store is failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

import redis.asyncio as aioredis

from fullon_account_service.bus.batch import Batch, Delivery, Handler, Held, Prepare, decode_parts
from fullon_account_service.bus.handling import BatchHandling, Done
from fullon_account_service.bus.reader import GroupReader, Rejected, StreamEntries
from fullon_account_service.bus.redis_errors import REDIS_ERRORS, is_missing_group, translate
from fullon_account_service.bus.sink_status import SinkStatus
from fullon_account_service.bus.streams import event_streams
from fullon_account_service.bus.trim import trim_acknowledged
from fullon_account_service.errors import AccountServiceError, FatalError
from fullon_account_service.logs import get_logger
from fullon_account_service.retry import OUTAGE_RETRY, RetryPolicy
from fullon_account_service.supervisor import TaskSupervisor

__all__ = ["Consumer", "Delivery", "Handler", "Prepare"]

log = get_logger("bus")


class Consumer:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        prefix: str,
        group: str,
        consumer: str,
        kinds: Sequence[str],
        handler: Handler,
        batch_size: int = 500,
        block_ms: int = 1000,
        claim_idle_ms: int = 30_000,
        max_deliveries: int = 5,
        trim_interval_s: float = 60.0,
        retain_entries: int = 0,
        retry: RetryPolicy = OUTAGE_RETRY,
        partitions: int = 1,
        read_ahead: bool = False,
        prepare: Prepare | None = None,
    ) -> None:
        if prepare is not None and not read_ahead:
            raise ValueError("prepare is called on batches read ahead: it needs read_ahead=True")
        self._redis = redis
        # Every partition of every kind: one group reads them all (see ``bus.streams``).
        self._streams = tuple(event_streams(prefix, kinds, partitions))
        self._handling = BatchHandling(handler, max_deliveries=max_deliveries)
        self._batch_size = batch_size
        self._block_ms = block_ms
        self._trim_interval_s = trim_interval_s
        self._retain_entries = retain_entries
        self._retry = retry
        self._group = group
        self._status = SinkStatus(redis, prefix=prefix, group=group, consumer=consumer)
        self._reader = GroupReader(
            redis,
            prefix=prefix,
            streams=self._streams,
            group=group,
            consumer=consumer,
            claim_idle_ms=claim_idle_ms,
        )
        self._read_ahead = read_ahead
        self._prepare = prepare
        self._tasks = TaskSupervisor(f"read-ahead {group}")
        self._ahead: asyncio.Task[Batch] | None = None
        self._stopping = False

    @property
    def streams(self) -> tuple[str, ...]:
        return self._streams

    @property
    def holding(self) -> int:
        """How many entries are held for a store that failed them all (0 when consuming)."""
        held = self._handling.held
        return 0 if held is None else len(held.deliveries)

    async def ensure_groups(self) -> None:
        try:
            await self._reader.ensure_groups()
        except REDIS_ERRORS as e:
            raise translate(e, "create group") from e

    async def run_once(self) -> int:
        """One round: claim idle entries, read new ones (or take the batch read ahead), handle,
        acknowledge.

        Entries held from the last round come first and take their room in the batch: they are
        handled again without being read again. Returns how many entries left the pending list
        (handled or dead-lettered).
        """
        held, self._handling.held = self._handling.held, None
        try:
            if held is not None:
                await self._reader.touch(held.parts)  # or the claim below would take them again
            accepted, deliveries, rejected = await self._next_batch(held)
            if held is not None:
                accepted, deliveries = held.parts + accepted, held.deliveries + deliveries
            if not deliveries and not rejected:
                return 0
            if self._read_ahead and held is None and not self._stopping:
                self._ahead = self._tasks.spawn(self._read_ahead_batch(accepted), name="read ahead")
            try:
                return await self._handle(accepted, deliveries, rejected)
            finally:
                await self._join_held()
        except REDIS_ERRORS as e:
            if self._handling.held is None:
                self._handling.held = held
            if is_missing_group(e):
                log.warning("consumer group missing, recreating", group=self._group)
                await self.ensure_groups()
                return 0
            raise translate(e, "consume") from e

    async def _next_batch(self, held: Held | None) -> Batch:
        """The batch read ahead if there is one, else a read in the room ``held`` leaves (not
        waiting for new entries when there are held ones to retry)."""
        if self._ahead is not None:
            ahead, self._ahead = self._ahead, None
            return await ahead
        room = self._batch_size - (len(held.deliveries) if held else 0)
        in_hand = held.parts if held else []
        return decode_parts(await self._read_parts(room, None if held else self._block_ms, in_hand))

    async def _read_parts(
        self, room: int, block_ms: int | None, in_hand: Sequence[StreamEntries]
    ) -> list[StreamEntries]:
        """Up to ``room`` entries: idle ones claimed first (never those of ``in_hand``, the batch
        this consumer holds), then new ones in the room left (waiting up to ``block_ms`` only when
        nothing was claimed)."""
        parts = await self._reader.claim(room, in_hand) if room > 0 else []
        room -= sum(len(part.ids) for part in parts)
        if room > 0:
            parts += await self._reader.read_new(room, None if parts else block_ms)
        return parts

    async def _read_ahead_batch(self, in_hand: Sequence[StreamEntries]) -> Batch:
        """A batch read ahead, prepared by the sink while the batch before (``in_hand``) is stored."""
        batch = decode_parts(await self._read_parts(self._batch_size, self._block_ms, in_hand))
        if self._prepare is not None and batch[1]:
            try:
                await self._prepare(batch[1])
            except Exception as e:  # preparing only saves the handler work: it never loses a batch
                log.warning("preparing a batch read ahead failed", group=self._group, error=repr(e))
        return batch

    async def _join_held(self) -> None:
        """The store failed every entry: the batch read ahead waits with the held one."""
        held = self._handling.held
        if self._ahead is None or held is None:
            return
        ahead, self._ahead = self._ahead, None
        accepted, deliveries, rejected = await ahead
        self._handling.held = Held(held.parts + accepted, held.deliveries + deliveries)
        if rejected:
            await self._settle([], rejected)

    async def _handle(
        self, accepted: list[StreamEntries], deliveries: list[Delivery], rejected: list[Rejected]
    ) -> int:
        done: Done = []
        try:
            await self._handling.handle(accepted, deliveries, done, rejected)
        finally:
            await asyncio.shield(self._settle(done, rejected))
        return sum(len(ids) for _, ids in done) + len(rejected)

    async def _settle(self, done: Done, rejected: list[Rejected]) -> None:
        await self._reader.ack(done)
        if rejected:
            for item in rejected:
                log.error(
                    "dead-lettered",
                    stream=item.entry.stream,
                    entry_id=item.entry.entry_id,
                    reason=item.reason,
                )
            await self._reader.dead_letter(rejected)

    async def trim(self) -> int:
        removed = 0
        for stream in self._streams:
            removed += await trim_acknowledged(self._redis, stream, retain=self._retain_entries)
        return removed

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; the batch in hand is finished first, and so is the batch
        read ahead unless the store is failing.

        Redis outages, and handler failures that hit every entry, are waited out under the
        injected retry policy (capped exponential backoff); while waiting, the reason is recorded
        for ``health`` and the held entries are kept from going idle. Any other error of the round
        (a Redis error reply) is waited on and reported the same way, never retried silently.
        """
        attempts = self._retry.start()
        ready = False
        next_trim = time.monotonic() + self._trim_interval_s
        try:
            while not stop.is_set():
                try:
                    if not ready:
                        await self.ensure_groups()
                        ready = True
                    await self.run_once()
                    await self._status.clear()
                    if time.monotonic() >= next_trim:
                        next_trim = time.monotonic() + self._trim_interval_s
                        await self.trim()
                    attempts.reset()
                except AccountServiceError as e:
                    delay = attempts.next()
                    level = log.error if isinstance(e, FatalError) else log.warning
                    level(
                        "consumer waiting after error",
                        group=self._group,
                        error=e,
                        holding=self.holding,
                        retry_in_s=round(delay, 3),
                    )
                    await self._status.error(f"{type(e).__name__}: {e}")
                    await self._keep_held()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
        finally:
            await self._finish_read_ahead()
            await asyncio.shield(self._status.clear())

    async def _finish_read_ahead(self) -> None:
        self._stopping = True
        if self._ahead is not None and self._handling.held is None:
            try:
                await self.run_once()
            except AccountServiceError as e:
                log.warning("batch read ahead left pending at stop", group=self._group, error=e)
        await self._tasks.cancel_all()

    async def _keep_held(self) -> None:
        held = self._handling.held
        if held is None:
            return
        try:
            await self._reader.touch(held.parts)
        except REDIS_ERRORS as e:
            log.warning("could not keep held entries from idling", group=self._group, error=repr(e))
