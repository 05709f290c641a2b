"""Consumer-group processing with at-least-once delivery.

The handler gets a batch of decoded deliveries; entries are acknowledged only after it returned,
the acknowledgement shielded from cancellation, so a sink that commits then acks never loses an
event and at worst sees one twice (sinks dedupe by ``event_id``).

Failure policy, in order:
- an entry the codec rejects, or one the handler rejects with ``ContractError``, is dead-lettered
  at once: retrying cannot make bad bytes good;
- a handler raising ``TransientError`` (database down) leaves the whole batch pending and the
  error propagates so ``run`` backs off; it is not the entries' fault and does not count;
- any other failure of a batch is retried entry by entry to isolate the bad one; an entry failing
  on its ``max_deliveries``-th delivery is dead-lettered with the reason, otherwise it stays
  pending and comes back through XAUTOCLAIM after ``claim_idle_ms``.
Entries of a consumer that died between read and ack come back the same way, to whoever claims
them first.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from itertools import repeat

import msgspec
import redis.asyncio as aioredis
from redis import exceptions as rex

from fullon_account_service.bus.reader import GroupReader, Rejected, StreamEntries
from fullon_account_service.bus.redis_errors import is_missing_group, translate
from fullon_account_service.bus.streams import stream_key
from fullon_account_service.bus.trim import trim_acknowledged
from fullon_account_service.contract import Envelope, decode
from fullon_account_service.errors import AccountServiceError, ContractError, FatalError, TransientError
from fullon_account_service.logs import get_logger

log = get_logger("bus")

MIN_BACKOFF_S = 0.1
MAX_BACKOFF_S = 5.0


class Delivery(msgspec.Struct, frozen=True, gc=False):
    """One decoded entry handed to the handler.

    A Struct rather than a frozen dataclass: one is built per entry, and a frozen dataclass costs
    about ten times as much to build. ``gc=False`` is safe because it only holds str, int and an
    envelope, which never refer back to it.
    """

    stream: str
    entry_id: str
    envelope: Envelope
    deliveries: int


Handler = Callable[[Sequence[Delivery]], Awaitable[None]]


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
    ) -> None:
        self._redis = redis
        self._streams = tuple(stream_key(prefix, kind) for kind in kinds)
        self._handler = handler
        self._batch_size = batch_size
        self._block_ms = block_ms
        self._max_deliveries = max_deliveries
        self._trim_interval_s = trim_interval_s
        self._retain_entries = retain_entries
        self._group = group
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

    async def ensure_groups(self) -> None:
        try:
            await self._reader.ensure_groups()
        except rex.RedisError as e:
            raise translate(e, "create group") from e

    async def run_once(self) -> int:
        """One round: claim idle entries, read new ones, handle, acknowledge.

        Returns how many entries left the pending list (handled or dead-lettered).
        """
        try:
            parts = await self._reader.claim(self._batch_size)
            room = self._batch_size - sum(len(part.ids) for part in parts)
            if room > 0:
                parts += await self._reader.read_new(room, None if parts else self._block_ms)
            if not parts:
                return 0
            return await self._process(parts)
        except rex.RedisError as e:
            if is_missing_group(e):
                log.warning("consumer group missing, recreating", group=self._group)
                await self.ensure_groups()
                return 0
            raise translate(e, "consume") from e

    async def _process(self, parts: list[StreamEntries]) -> int:
        # Every entry is decoded, strictly, before the handler sees any: a sink never writes from
        # bytes the contract did not accept.
        accepted: list[StreamEntries] = []
        deliveries: list[Delivery] = []
        rejected: list[Rejected] = []
        for part in parts:
            kept, envelopes = _decode(part, rejected)
            accepted.append(kept)
            ids = map(bytes.decode, kept.ids)
            deliveries += map(Delivery, repeat(kept.stream), ids, envelopes, kept.deliveries)
        done: list[tuple[str, list[bytes]]] = []
        try:
            if len(deliveries) == 1:
                await self._one_by_one(accepted, deliveries, done, rejected)
            elif deliveries:
                try:
                    await self._handler(deliveries)
                    done = [(part.stream, part.ids) for part in accepted]
                except TransientError:
                    raise
                except Exception:
                    log.warning("batch failed, retrying entry by entry", size=len(deliveries))
                    await self._one_by_one(accepted, deliveries, done, rejected)
        finally:
            await asyncio.shield(self._settle(done, rejected))
        return sum(len(ids) for _, ids in done) + len(rejected)

    async def _one_by_one(
        self,
        accepted: list[StreamEntries],
        deliveries: list[Delivery],
        done: list[tuple[str, list[bytes]]],
        rejected: list[Rejected],
    ) -> None:
        entries = [part.entry(i) for part in accepted for i in range(len(part.ids))]
        for entry, delivery in zip(entries, deliveries, strict=True):
            try:
                await self._handler([delivery])
            except TransientError:
                raise
            except ContractError as e:
                rejected.append(Rejected(entry, f"rejected by handler: {e}"))
            except Exception as e:
                if delivery.deliveries >= self._max_deliveries:
                    reason = f"failed {delivery.deliveries} deliveries: {type(e).__name__}: {e}"
                    rejected.append(Rejected(entry, reason))
                else:
                    log.warning(
                        "entry failed, left pending",
                        stream=delivery.stream,
                        entry_id=delivery.entry_id,
                        deliveries=delivery.deliveries,
                        error=e,
                    )
            else:
                done.append((entry.stream, [entry.raw_id]))

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
        """Consume until ``stop`` is set; the batch in hand is finished first. Redis outages and
        transient handler failures are waited out with capped exponential backoff."""
        backoff = MIN_BACKOFF_S
        ready = False
        next_trim = time.monotonic() + self._trim_interval_s
        while not stop.is_set():
            try:
                if not ready:
                    await self.ensure_groups()
                    ready = True
                await self.run_once()
                if time.monotonic() >= next_trim:
                    next_trim = time.monotonic() + self._trim_interval_s
                    await self.trim()
                backoff = MIN_BACKOFF_S
            except AccountServiceError as e:
                level = log.error if isinstance(e, FatalError) else log.warning
                level("consumer waiting after error", group=self._group, error=e, retry_in_s=backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)


def _decode(part: StreamEntries, rejected: list[Rejected]) -> tuple[StreamEntries, list[Envelope]]:
    """Decode a stream's entries; the undecodable ones go to ``rejected`` and out of the part.

    The whole list in one comprehension first, the common case; only when an entry fails is the
    part decoded again one entry at a time to find which.
    """
    try:
        return part, [decode(payload) for payload in part.payloads]
    except ContractError:
        pass
    keep: list[int] = []
    envelopes: list[Envelope] = []
    for i, payload in enumerate(part.payloads):
        try:
            envelopes.append(decode(payload))
        except ContractError as e:
            rejected.append(Rejected(part.entry(i), f"undecodable: {e}"))
        else:
            keep.append(i)
    return part.subset(keep), envelopes
