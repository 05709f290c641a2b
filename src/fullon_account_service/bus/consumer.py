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
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

import redis.asyncio as aioredis
from redis import exceptions as rex

from fullon_account_service.bus.batch import Delivery, Handler, Held, decode_parts
from fullon_account_service.bus.handling import BatchHandling, Done
from fullon_account_service.bus.reader import GroupReader, Rejected, StreamEntries
from fullon_account_service.bus.redis_errors import is_missing_group, translate
from fullon_account_service.bus.sink_status import SinkStatus
from fullon_account_service.bus.streams import event_streams
from fullon_account_service.bus.trim import trim_acknowledged
from fullon_account_service.errors import AccountServiceError, FatalError
from fullon_account_service.logs import get_logger
from fullon_account_service.retry import OUTAGE_RETRY, RetryPolicy

__all__ = ["Consumer", "Delivery", "Handler"]

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
    ) -> None:
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
        except rex.RedisError as e:
            raise translate(e, "create group") from e

    async def run_once(self) -> int:
        """One round: claim idle entries, read new ones, handle, acknowledge.

        Entries held from the last round come first and take their room in the batch: they are
        handled again without being read again. Returns how many entries left the pending list
        (handled or dead-lettered).
        """
        held, self._handling.held = self._handling.held, None
        try:
            if held is not None:
                await self._reader.touch(held.parts)  # or the claim below would take them again
            room = self._batch_size - (len(held.deliveries) if held else 0)
            parts = await self._read_parts(room, None if held else self._block_ms)
            if not parts and held is None:
                return 0
            return await self._process(parts, held)
        except rex.RedisError as e:
            if self._handling.held is None:
                self._handling.held = held
            if is_missing_group(e):
                log.warning("consumer group missing, recreating", group=self._group)
                await self.ensure_groups()
                return 0
            raise translate(e, "consume") from e

    async def _read_parts(self, room: int, block_ms: int | None) -> list[StreamEntries]:
        """Up to ``room`` entries: idle ones claimed first, then new ones in the room left (waiting
        up to ``block_ms`` only when nothing was claimed)."""
        parts = await self._reader.claim(room) if room > 0 else []
        room -= sum(len(part.ids) for part in parts)
        if room > 0:
            parts += await self._reader.read_new(room, None if parts else block_ms)
        return parts

    async def _process(self, parts: list[StreamEntries], held: Held | None) -> int:
        return await self._handle(*decode_parts(parts, held))

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
        """Consume until ``stop`` is set; the batch in hand is finished first.

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
            await asyncio.shield(self._status.clear())

    async def _keep_held(self) -> None:
        held = self._handling.held
        if held is None:
            return
        try:
            await self._reader.touch(held.parts)
        except rex.RedisError as e:
            log.warning("could not keep held entries from idling", group=self._group, error=repr(e))
