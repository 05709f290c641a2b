"""The Redis side of a consumer group: create, claim, read, acknowledge, dead-letter.

Kept apart from ``consumer`` so the retry policy there reads as policy and every stream command
(and its reply shape, identical on Redis 7 and fakeredis) lives in one place.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rex

from fullon_account_service.bus.deadletter import DEAD_LETTER_MAXLEN, dead_letter_fields
from fullon_account_service.bus.redis_errors import execute
from fullon_account_service.bus.streams import ENTRY_FIELD, dead_letter_key


@dataclass(slots=True)
class RawEntry:
    """An entry as it came off the stream, before the codec has looked at it.

    Not frozen: one is built per entry on the hot path, and a frozen dataclass pays for
    ``object.__setattr__`` on every field.
    """

    stream: str
    raw_id: bytes  # as Redis sent it: acknowledging with bytes skips re-encoding every id
    payload: bytes
    deliveries: int

    @property
    def entry_id(self) -> str:
        return self.raw_id.decode()


@dataclass(frozen=True, slots=True)
class Rejected:
    entry: RawEntry
    reason: str


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

    async def claim(self, count: int) -> list[RawEntry]:
        """Take over entries idle past the claim timeout: a dead consumer's, or our own failures.

        Nothing can be idle long enough sooner than half the timeout after the last scan, so
        scans are spaced that far apart unless the last one filled a page.
        """
        now = time.monotonic()
        if now < self._next_claim_at:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for stream in self._streams:
            pipe.xautoclaim(
                stream, self._group, self._consumer, self._claim_idle_ms, self._cursors[stream], count=count
            )
        replies: list[list[Any]] = await execute(pipe)
        claimed: list[tuple[str, bytes, bytes]] = []
        more = False
        for stream, reply in zip(self._streams, replies, strict=True):
            cursor, entries = reply[0].decode(), reply[1]
            self._cursors[stream] = cursor
            more = more or cursor != "0-0"
            for entry_id, fields in entries:
                if fields:  # Redis < 7 reports entries deleted from the stream as nil
                    claimed.append((stream, entry_id, fields.get(ENTRY_FIELD, b"")))
        self._next_claim_at = now if more else now + self._claim_idle_ms / 2000
        if not claimed:
            return []
        return await self._with_delivery_counts(claimed)

    async def _with_delivery_counts(self, claimed: list[tuple[str, bytes, bytes]]) -> list[RawEntry]:
        pipe = self._redis.pipeline(transaction=False)
        for stream, entry_id, _ in claimed:
            pipe.xpending_range(stream, self._group, entry_id, entry_id, 1, consumername=self._consumer)
        replies: list[list[dict[str, Any]]] = await execute(pipe)
        return [
            RawEntry(stream, entry_id, payload, int(reply[0]["times_delivered"]) if reply else 1)
            for (stream, entry_id, payload), reply in zip(claimed, replies, strict=True)
        ]

    async def read_new(self, count: int, block_ms: int | None) -> list[RawEntry]:
        """Entries never delivered to this group. ``block_ms`` None or 0 means do not wait (Redis
        reads BLOCK 0 as wait forever, which would make shutdown hang)."""
        reply = await self._redis.xreadgroup(
            self._group,
            self._consumer,
            dict.fromkeys(self._streams, ">"),
            count=count,
            block=block_ms or None,
        )
        entries: list[RawEntry] = []
        append = entries.append
        for stream_name, items in reply or ():
            stream = stream_name.decode()
            for entry_id, fields in items:
                append(RawEntry(stream, entry_id, fields.get(ENTRY_FIELD, b"") if fields else b"", 1))
        return entries

    async def ack(self, entries: Iterable[RawEntry]) -> None:
        by_stream: defaultdict[str, list[bytes]] = defaultdict(list)
        for entry in entries:
            by_stream[entry.stream].append(entry.raw_id)
        if not by_stream:
            return
        pipe = self._redis.pipeline(transaction=False)
        for stream, ids in by_stream.items():
            pipe.xack(stream, self._group, *ids)
        await execute(pipe)

    async def dead_letter(self, rejected: Sequence[Rejected]) -> None:
        """Dead-letter and acknowledge in one MULTI: an entry is never lost between the two, nor
        left pending after it was dead-lettered."""
        if not rejected:
            return
        pipe = self._redis.pipeline(transaction=True)
        for item in rejected:
            entry = item.entry
            fields = dead_letter_fields(
                reason=item.reason,
                payload=entry.payload,
                stream=entry.stream,
                entry_id=entry.entry_id,
                group=self._group,
                consumer=self._consumer,
            )
            pipe.xadd(dead_letter_key(self._prefix), fields, maxlen=DEAD_LETTER_MAXLEN, approximate=True)
            pipe.xack(entry.stream, self._group, entry.raw_id)
        await execute(pipe)
