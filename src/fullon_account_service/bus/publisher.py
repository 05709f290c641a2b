"""Batched publishing: one round trip for a whole batch of envelopes.

Entries are added without MAXLEN: capping on XADD would silently drop entries a sink has not
acknowledged yet. Streams are trimmed separately by ``bus.trim``, which knows what groups still
need. A failed publish raises ``TransientError``; the caller publishes the batch again, and the
copies that did land twice are harmless: the sinks' writes are idempotent (see ``bus.consumer``).
With partitions, an envelope goes to its ``ex_id``'s partition of its kind (``bus.streams``); on
a cluster the pipeline is split per node by redis-py, each node's part still in order.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis
from redis import exceptions as rex

from fullon_account_service.bus.redis_errors import execute, translate
from fullon_account_service.bus.streams import ENTRY_FIELD, partition_keys
from fullon_account_service.contract import KINDS, Envelope, encode


class Publisher:
    def __init__(self, redis: aioredis.Redis, *, prefix: str, partitions: int = 1) -> None:
        self._redis = redis
        self._partitions = partitions
        self._keys = {kind: partition_keys(prefix, kind, partitions) for kind in KINDS}

    def key(self, kind: str, ex_id: int = 0) -> str:
        """The stream an event of ``kind`` for ``ex_id`` goes to."""
        return self._keys[kind][ex_id % self._partitions]

    async def publish(self, envelopes: Sequence[Envelope]) -> list[str]:
        """XADD every envelope to its kind's stream in one pipeline; the entry ids, in order."""
        if not envelopes:
            return []
        pipe = self._redis.pipeline(transaction=False)
        keys, partitions = self._keys, self._partitions
        for envelope in envelopes:
            key = keys[envelope.kind][envelope.ex_id % partitions]
            pipe.xadd(key, {ENTRY_FIELD: encode(envelope)})
        try:
            ids: list[bytes] = await execute(pipe)
        except rex.RedisError as e:
            raise translate(e, "publish") from e
        return [entry_id.decode() for entry_id in ids]
