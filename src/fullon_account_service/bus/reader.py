"""The Redis side of a consumer group: create, claim, read, acknowledge, dead-letter.

Kept apart from ``consumer`` so the retry policy there reads as policy and every stream command
(and its reply shape, identical on Redis 7 and fakeredis) lives in one place.

Reads go through a sibling client on the injected client's connection pool whose XREADGROUP and
XAUTOCLAIM replies are left as Redis sent them: redis-py would otherwise build a dict for every
entry only for us to take one field out of it, about a quarter of the cost of a whole read + ack
round (bench/RESULTS.md). The injected client, and everyone sharing its pool, keep redis-py's
normal parsing. A cluster client has no pool to share: there the replies come parsed (each entry's
fields as a dict) and are read in that shape.

On a cluster a read of several streams is one XREADGROUP per slot (``bus.slots``), and the dead
letter and the acknowledgement of its entry live on different slots: there the letter is written
first and the entry acknowledged after, so a crash in between leaves a second letter for the
entry, never a lost one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rex
from redis.typing import EncodableT, FieldT, KeyT, StreamIdT

from fullon_account_service.bus.deadletter import dead_letter_fields
from fullon_account_service.bus.redis_errors import execute
from fullon_account_service.bus.slots import read_spread, slot_groups
from fullon_account_service.bus.streams import ENTRY_FIELD, dead_letter_key
from fullon_account_service.redis_client import is_cluster

UNPARSED_COMMANDS = ("XREADGROUP", "XAUTOCLAIM")


@dataclass(frozen=True, slots=True)
class RawEntry:
    """One entry before the codec has looked at it; only built off the hot path."""

    stream: str
    raw_id: bytes
    payload: bytes
    deliveries: int

    @property
    def entry_id(self) -> str:
        return self.raw_id.decode()


@dataclass(slots=True)
class StreamEntries:
    """What one read returned from one stream, column by column.

    Columns rather than a record per entry: the consumer's hot path then builds nothing per entry
    but the ``Delivery`` it hands over, and acknowledges a stream's ids as the list Redis sent.
    """

    stream: str
    ids: list[bytes]  # as Redis sent them: acknowledging with bytes skips re-encoding every id
    payloads: list[bytes]
    deliveries: list[int]  # per entry, this delivery included

    def entry(self, i: int) -> RawEntry:
        return RawEntry(self.stream, self.ids[i], self.payloads[i], self.deliveries[i])

    def subset(self, keep: Sequence[int]) -> StreamEntries:
        return StreamEntries(
            self.stream,
            [self.ids[i] for i in keep],
            [self.payloads[i] for i in keep],
            [self.deliveries[i] for i in keep],
        )


@dataclass(frozen=True, slots=True)
class Rejected:
    entry: RawEntry
    reason: str


def _unparsed(response: Any, **options: Any) -> Any:
    return response


def unparsed_reader(redis: aioredis.Redis) -> aioredis.Redis:
    """A client sharing ``redis``'s connections whose stream reads return Redis's raw reply
    (``redis`` itself when it is a cluster client, which has no pool to share).

    It owns no connection pool, so it needs no closing; ``redis`` keeps its own callbacks.
    """
    if is_cluster(redis):
        return redis
    raw = aioredis.Redis(connection_pool=redis.connection_pool)
    for command in UNPARSED_COMMANDS:
        raw.set_response_callback(command, _unparsed)
    return raw


def payload_of(fields: list[bytes] | dict[bytes, bytes] | None) -> bytes:
    """The ``e`` field of an entry (a raw flat field/value list, or a parsed dict); empty if the
    entry has none, so the codec rejects it and it is dead-lettered like any undecodable entry."""
    if not fields:
        return b""
    if isinstance(fields, dict):
        return fields.get(ENTRY_FIELD, b"")
    for i in range(0, len(fields) - 1, 2):
        if fields[i] == ENTRY_FIELD:
            return fields[i + 1]
    return b""


def payloads_of(items: list[list[Any]]) -> list[bytes]:
    # The publisher writes exactly one field, so the general lookup is rarely needed.
    return [
        f[1] if (f := item[1]) and type(f) is list and f[0] == ENTRY_FIELD else payload_of(f)
        for item in items
    ]


def entries_of(reply: Any) -> list[StreamEntries]:
    """A raw XREADGROUP reply (RESP2 list of pairs or RESP3 map) as first deliveries per stream."""
    per_stream = reply.items() if isinstance(reply, dict) else reply or ()
    return [
        StreamEntries(name.decode(), [item[0] for item in items], payloads_of(items), [1] * len(items))
        for name, items in per_stream
        if items
    ]


class GroupReader:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        prefix: str,
        streams: Sequence[str],
        group: str,
        consumer: str,
        claim_idle_ms: int,
    ) -> None:
        self._redis = redis
        self._raw = unparsed_reader(redis)
        self._groups = slot_groups(redis, streams)
        self._new: dict[tuple[str, ...], dict[KeyT, StreamIdT]] = {
            group: dict.fromkeys(group, ">") for group in self._groups
        }
        self._clustered = is_cluster(redis)
        self._prefix = prefix
        self._streams = tuple(streams)
        self._group = group
        self._consumer = consumer
        self._claim_idle_ms = claim_idle_ms
        # XAUTOCLAIM walks the pending list page by page; the cursor survives between calls so a
        # long list is covered in turn instead of rescanning its head.
        self._cursors = dict.fromkeys(self._streams, "0-0")
        self._next_claim_at = 0.0

    async def ensure_groups(self) -> None:
        """Create the group on every stream (and the stream if missing); from the beginning, so a
        new sink also processes what was published before it first started."""
        for stream in self._streams:
            try:
                await self._redis.xgroup_create(stream, self._group, id="0", mkstream=True)
            except rex.ResponseError as e:
                if not str(e).startswith("BUSYGROUP"):
                    raise

    async def claim(self, count: int, in_hand: Sequence[StreamEntries] = ()) -> list[StreamEntries]:
        """Take over entries idle past the claim timeout: a dead consumer's, or our own failures.

        ``in_hand``: entries this consumer holds (the batch being stored), touched in the same
        pipeline just before the scan. Idle while a slow store runs, they would otherwise be
        claimed again by this very consumer, handled twice and counted a second delivery.

        Nothing can be idle long enough sooner than half the timeout after the last scan, so
        scans are spaced that far apart unless the last one filled a page.
        """
        now = time.monotonic()
        if now < self._next_claim_at:
            return []
        pipe = self._raw.pipeline(transaction=False)
        touches = self._touch_into(pipe, in_hand)
        for stream in self._streams:
            pipe.xautoclaim(
                stream, self._group, self._consumer, self._claim_idle_ms, self._cursors[stream], count=count
            )
        replies: list[list[Any]] = (await execute(pipe))[touches:]
        found: list[tuple[str, list[Any]]] = []
        more = False
        for stream, reply in zip(self._streams, replies, strict=True):
            cursor = reply[0].decode()
            self._cursors[stream] = cursor
            more = more or cursor != "0-0"
            items = [item for item in reply[1] if item[1]]  # Redis < 7 reports deleted entries as nil
            if items:
                found.append((stream, items))
        self._next_claim_at = now if more else now + self._claim_idle_ms / 2000
        if not found:
            return []
        counts = iter(await self._delivery_counts(found))
        return [
            StreamEntries(
                stream, [item[0] for item in items], payloads_of(items), list(islice(counts, len(items)))
            )
            for stream, items in found
        ]

    async def _delivery_counts(self, found: list[tuple[str, list[Any]]]) -> list[int]:
        pipe = self._redis.pipeline(transaction=False)
        for stream, items in found:
            for entry_id, _ in items:
                pipe.xpending_range(stream, self._group, entry_id, entry_id, 1, consumername=self._consumer)
        replies: list[list[dict[str, Any]]] = await execute(pipe)
        return [int(reply[0]["times_delivered"]) if reply else 1 for reply in replies]

    async def read_new(self, count: int, block_ms: int | None) -> list[StreamEntries]:
        """Entries never delivered to this group. ``block_ms`` None or 0 means do not wait (Redis
        reads BLOCK 0 as wait forever, which would make shutdown hang)."""

        async def read(group: tuple[str, ...], block: int | None) -> list[StreamEntries]:
            reply = await self._raw.xreadgroup(
                self._group, self._consumer, self._new[group], count=count, block=block
            )
            if self._clustered and isinstance(reply, dict):
                # redis-py's RESP3 parsing wraps each stream's entries in one more list
                reply = {name: items[0] if items else [] for name, items in reply.items()}
            return entries_of(reply)

        return await read_spread(self._groups, read, block_ms or None)

    async def touch(self, parts: Sequence[StreamEntries]) -> None:
        """Reset the idle time of entries this consumer holds, without counting a delivery.

        XCLAIM with JUSTID to ourselves: nobody else claims entries a consumer is waiting to
        store, and their delivery counts stay as they were.
        """
        pipe = self._redis.pipeline(transaction=False)
        self._touch_into(pipe, parts)
        await execute(pipe)

    def _touch_into(self, pipe: Any, parts: Sequence[StreamEntries]) -> int:
        """Queue the XCLAIM JUSTID of ``touch`` on ``pipe``; how many commands were queued."""
        queued = 0
        for part in parts:
            if part.ids:
                pipe.xclaim(
                    part.stream, self._group, self._consumer, 0, list[StreamIdT](part.ids), justid=True
                )
                queued += 1
        return queued

    async def ack(self, ids_by_stream: Iterable[tuple[str, list[bytes]]]) -> None:
        """One XACK per stream, however the ids arrive."""
        merged: dict[str, list[bytes]] = {}
        for stream, ids in ids_by_stream:
            if ids:
                merged.setdefault(stream, []).extend(ids)
        if not merged:
            return
        pipe = self._redis.pipeline(transaction=False)
        for stream, ids in merged.items():
            pipe.xack(stream, self._group, *ids)
        await execute(pipe)

    async def dead_letter(self, rejected: Sequence[Rejected]) -> None:
        """Dead-letter and acknowledge in one MULTI: an entry is never lost between the two, nor
        left pending after it was dead-lettered. On a cluster: letters first, then the acks."""
        if not rejected:
            return
        if self._clustered:
            await self._dead_letter_then_ack(rejected)
            return
        pipe = self._redis.pipeline(transaction=True)
        for item in rejected:
            pipe.xadd(dead_letter_key(self._prefix), self._letter(item))
            pipe.xack(item.entry.stream, self._group, item.entry.raw_id)
        await execute(pipe)

    async def _dead_letter_then_ack(self, rejected: Sequence[Rejected]) -> None:
        letters = self._redis.pipeline(transaction=False)
        for item in rejected:
            letters.xadd(dead_letter_key(self._prefix), self._letter(item))
        await execute(letters)
        await self.ack((item.entry.stream, [item.entry.raw_id]) for item in rejected)

    def _letter(self, item: Rejected) -> dict[FieldT, EncodableT]:
        entry = item.entry
        return dead_letter_fields(
            reason=item.reason,
            payload=entry.payload,
            stream=entry.stream,
            entry_id=entry.entry_id,
            group=self._group,
            consumer=self._consumer,
        )
