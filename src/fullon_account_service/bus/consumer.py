"""Consumer-group processing with at-least-once delivery.

The handler gets a batch of decoded deliveries; entries are acknowledged only after it returned,
the acknowledgement shielded from cancellation, so a sink that commits then acks never loses an
event and at worst sees one twice. Seeing one twice is harmless because every sink's write is
idempotent on the fact itself, not on ``event_id``: trades insert once per
``(ex_trade_id, ex_order_id)``, orders upsert with monotonic state per ``(ex_id, ex_order_id)``,
and the cache keeps the newest snapshot by exchange time.

Failure policy, in order:
- an entry the codec rejects, or one the handler rejects with ``ContractError``, is dead-lettered
  at once: retrying cannot make bad bytes good;
- a handler raising ``TransientError`` (database down) or ``StorageUnavailable`` (a table
  missing, a grant revoked, a disk full) fails every entry alike and is no entry's fault: the
  consumer keeps the entries not yet stored in hand and hands them to the handler again at the
  head of the next batch, after a capped backoff, without reading them again; new entries only
  fill the batch's remaining room, so the held set never outgrows one batch. Held entries are
  re-claimed to itself with JUSTID every round, so they never go idle for another consumer, and
  their delivery counts do not grow: a store that stays broken for a day burns no deliveries.
  While it waits, the consumer records the reason where ``health`` reads it
  (``bus.sink_status``);
- any other failure of a batch is retried entry by entry to isolate the bad one, and judged once
  every entry was tried. An entry that fails while a neighbour is stored is poison: on its
  ``max_deliveries``-th delivery it is dead-lettered with the reason, before that it stays
  pending and comes back through XAUTOCLAIM after ``claim_idle_ms``. When no entry was stored and
  at least ``SYSTEM_WIDE_FAILURES`` failed, all with the same error class, the failure is taken
  for one that hits every entry and handled like ``StorageUnavailable``. Held entries share the
  next batch with new ones, so poison that arrived alone is told apart as soon as anything else
  is stored; an entry once seen failing beside a stored one stays poison for this consumer
  (remembered, up to ``MAX_REMEMBERED_POISON``) and never again counts towards a failure of
  everything. (Fewer failures than that, with nothing stored, count per entry as poison.)
Entries of a consumer that died between read and ack come back the same way, to whoever claims
them first.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

import redis.asyncio as aioredis
from redis import exceptions as rex

from fullon_account_service.bus.batch import Delivery, Handler, Held, decode_parts, regroup
from fullon_account_service.bus.reader import GroupReader, RawEntry, Rejected, StreamEntries
from fullon_account_service.bus.redis_errors import is_missing_group, translate
from fullon_account_service.bus.sink_status import SinkStatus
from fullon_account_service.bus.streams import event_streams
from fullon_account_service.bus.trim import trim_acknowledged
from fullon_account_service.errors import (
    AccountServiceError,
    ContractError,
    FatalError,
    StorageUnavailable,
    TransientError,
)
from fullon_account_service.logs import get_logger
from fullon_account_service.retry import OUTAGE_RETRY, RetryPolicy

__all__ = ["Consumer", "Delivery", "Handler"]

log = get_logger("bus")

SYSTEM_WIDE_FAILURES = 3
MAX_REMEMBERED_POISON = 10_000
WAIT_ERRORS = (TransientError, StorageUnavailable)
"""Errors every entry would hit: the batch is held and retried, never counted or dead-lettered."""


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
        self._handler = handler
        self._batch_size = batch_size
        self._block_ms = block_ms
        self._max_deliveries = max_deliveries
        self._trim_interval_s = trim_interval_s
        self._retain_entries = retain_entries
        self._retry = retry
        self._group = group
        self._held: Held | None = None
        # (stream, entry id) of entries seen failing while a neighbour was stored, oldest first.
        self._poison: dict[tuple[str, bytes], None] = {}
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
        return 0 if self._held is None else len(self._held.deliveries)

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
        held, self._held = self._held, None
        try:
            if held is not None:
                await self._reader.touch(held.parts)  # or the claim below would take them again
            room = self._batch_size - (len(held.deliveries) if held else 0)
            parts = await self._reader.claim(room) if room > 0 else []
            room -= sum(len(part.ids) for part in parts)
            if room > 0:
                parts += await self._reader.read_new(room, None if parts or held else self._block_ms)
            if not parts and held is None:
                return 0
            return await self._process(parts, held)
        except rex.RedisError as e:
            if self._held is None:
                self._held = held
            if is_missing_group(e):
                log.warning("consumer group missing, recreating", group=self._group)
                await self.ensure_groups()
                return 0
            raise translate(e, "consume") from e

    async def _process(self, parts: list[StreamEntries], held: Held | None) -> int:
        return await self._handle(*decode_parts(parts, held))

    async def _handle(
        self, accepted: list[StreamEntries], deliveries: list[Delivery], rejected: list[Rejected]
    ) -> int:
        done: list[tuple[str, list[bytes]]] = []
        try:
            if len(deliveries) > 1 and await self._whole_batch(accepted, deliveries):
                done = [(part.stream, part.ids) for part in accepted]
            elif deliveries:
                await self._one_by_one(accepted, deliveries, done, rejected)
        finally:
            await asyncio.shield(self._settle(done, rejected))
        return sum(len(ids) for _, ids in done) + len(rejected)

    async def _whole_batch(self, accepted: list[StreamEntries], deliveries: list[Delivery]) -> bool:
        """Whether the handler stored the whole batch; False: isolate the failure entry by entry."""
        try:
            await self._handler(deliveries)
        except WAIT_ERRORS:
            self._held = Held(accepted, deliveries)
            raise
        except Exception:
            log.warning("batch failed, retrying entry by entry", size=len(deliveries))
            return False
        return True

    async def _one_by_one(
        self,
        accepted: list[StreamEntries],
        deliveries: list[Delivery],
        done: list[tuple[str, list[bytes]]],
        rejected: list[Rejected],
    ) -> None:
        """Each entry alone. An error no store classified is judged once the pass is over: poison
        if any neighbour was stored, a failure of everything if none was and enough failed alike."""
        entries = [part.entry(i) for part in accepted for i in range(len(part.ids))]
        settled: set[int] = set()
        suspects: list[tuple[int, Exception]] = []
        for i, (entry, delivery) in enumerate(zip(entries, deliveries, strict=True)):
            try:
                await self._handler([delivery])
            except WAIT_ERRORS:
                self._hold(entries, deliveries, settled)
                raise
            except ContractError as e:
                rejected.append(Rejected(entry, f"rejected by handler: {e}"))
                settled.add(i)
            except Exception as e:
                suspects.append((i, e))
            else:
                done.append((entry.stream, [entry.raw_id]))
                settled.add(i)
        # Entries this consumer saw fail while a neighbour was stored are poison for good.
        if done:
            self._poison.update(dict.fromkeys((entries[i].stream, entries[i].raw_id) for i, _ in suspects))
        known = {i for i, _ in suspects if (entries[i].stream, entries[i].raw_id) in self._poison}
        unknown = [(i, e) for i, e in suspects if i not in known]
        if len(unknown) >= SYSTEM_WIDE_FAILURES and len({type(e) for _, e in unknown}) == 1:
            # Known poison is left pending to be counted, not held with the rest.
            self._hold(entries, deliveries, settled | known)
            error = unknown[-1][1]
            raise StorageUnavailable(
                f"all {len(unknown)} entries tried failed alike and none was stored: "
                f"{type(error).__name__}: {error}"
            ) from error
        for i, error in suspects:
            delivery = deliveries[i]
            if delivery.deliveries >= self._max_deliveries:
                reason = f"failed {delivery.deliveries} deliveries: {type(error).__name__}: {error}"
                rejected.append(Rejected(entries[i], reason))
                self._poison.pop((entries[i].stream, entries[i].raw_id), None)
            else:
                log.warning(
                    "entry failed, left pending",
                    stream=delivery.stream,
                    entry_id=delivery.entry_id,
                    deliveries=delivery.deliveries,
                    error=error,
                )
        while len(self._poison) > MAX_REMEMBERED_POISON:
            del self._poison[next(iter(self._poison))]

    def _hold(self, entries: list[RawEntry], deliveries: list[Delivery], settled: set[int]) -> None:
        keep = [i for i in range(len(entries)) if i not in settled]
        self._held = Held(regroup([entries[i] for i in keep]), [deliveries[i] for i in keep])

    async def _settle(self, done: list[tuple[str, list[bytes]]], rejected: list[Rejected]) -> None:
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
        if self._held is None:
            return
        try:
            await self._reader.touch(self._held.parts)
        except rex.RedisError as e:
            log.warning("could not keep held entries from idling", group=self._group, error=repr(e))
