"""Batched publishing: one round trip for a whole batch of envelopes.

Entries are added without MAXLEN: capping on XADD would silently drop entries a sink has not
acknowledged yet. Streams are trimmed separately by ``bus.trim``, which knows what groups still
need. A failed publish raises ``TransientError``; the caller publishes the batch again, and the
copies that did land twice are harmless: the sinks' writes are idempotent (see ``bus.consumer``).
With partitions, an envelope goes to its ``ex_id``'s partition of its kind (``bus.streams``); on
a cluster the pipeline is split per node by redis-py, each node's part still in order. Writes
of other keys may ride ahead of the events in the same pipeline (``before``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import redis.asyncio as aioredis

from fullon_account_service.bus.redis_errors import REDIS_ERRORS, execute, translate
from fullon_account_service.bus.streams import ENTRY_FIELD, partition_keys
from fullon_account_service.contract import KINDS, Envelope, encode


class PipelineWrite(Protocol):
    """Another write sent in the same round trip as the events (``producers.side_write``)."""

    def queue(self, pipe: aioredis.client.Pipeline) -> None: ...


class Publisher:
    def __init__(self, redis: aioredis.Redis, *, prefix: str, partitions: int = 1) -> None:
        self._redis = redis
        self._partitions = partitions
        self._keys = {kind: partition_keys(prefix, kind, partitions) for kind in KINDS}

    def key(self, kind: str, ex_id: int = 0) -> str:
        """The stream an event of ``kind`` for ``ex_id`` goes to."""
        return self._keys[kind][ex_id % self._partitions]

    async def publish(self, envelopes: Sequence[Envelope], before: Sequence[PipelineWrite] = ()) -> list[str]:
        """XADD every envelope to its kind's stream in one pipeline, after the commands of
        ``before``; the entry ids, in order."""
        if not envelopes and not before:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for write in before:
            write.queue(pipe)
        ahead = len(pipe)
        keys, partitions = self._keys, self._partitions
        for envelope in envelopes:
            key = keys[envelope.kind][envelope.ex_id % partitions]
            pipe.xadd(key, {ENTRY_FIELD: encode(envelope)})
        try:
            ids: list[bytes] = await execute(pipe)
        except REDIS_ERRORS as e:
            raise translate(e, "publish") from e
        return [entry_id.decode() for entry_id in ids[ahead:]]
