"""Batched publishing: one round trip for a whole batch of envelopes, one command per stream.

Entries are added without MAXLEN: capping on XADD would silently drop entries a sink has not
acknowledged yet. Streams are trimmed separately by ``bus.trim``, which knows what groups still
need. A failed publish raises ``TransientError``; the caller publishes the batch again, and the
copies that did land twice are harmless: the sinks' writes are idempotent (see ``bus.consumer``).
With partitions, an envelope goes to its ``ex_id``'s partition of its kind (``bus.streams``).

Each stream's envelopes of a batch go in one ``EVAL`` of a script that XADDs them in order, one
entry each with the same single field as a plain XADD: redis-py packs a command and parses its
reply in Python (~5 us of the producer's CPU per XADD), a script call costs that once per stream
(~1 us per entry at a batch of 500). A stream with one entry in the batch gets a plain XADD,
which costs Redis less than starting the script. The order within each stream is the batch's; streams of
different kinds were never read in one order. A script touches one key, so it runs on a Redis
Cluster too (redis-py splits the pipeline per node, each node's part still in order). Sending the
source with every call (``EVAL``, not ``EVALSHA``) leaves nothing to load and no ``NOSCRIPT``
after a restart or a failover. An entry Redis refuses stops its script with that entry's error
reply (``WRONGTYPE``, ``OOM``...), the entries before it staying on the stream, as a pipeline's
XADDs before a failed one did. Writes of other keys may ride ahead of the events in the same
pipeline (``before``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import redis.asyncio as aioredis

from fullon_account_service.bus.redis_errors import REDIS_ERRORS, execute, translate
from fullon_account_service.bus.streams import ENTRY_FIELD, partition_keys
from fullon_account_service.contract import KINDS, Envelope, encode

XADD_ALL = """
local key, field, ids = KEYS[1], ARGV[1], {}
for i = 2, #ARGV do ids[i - 1] = redis.call('XADD', key, '*', field, ARGV[i]) end
return ids
"""
"""Append ``ARGV[2..]`` to stream ``KEYS[1]`` in order, one entry each with field ``ARGV[1]``;
the entry ids."""


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
        """Append every envelope to its kind's stream in one pipeline, after the commands of
        ``before``; the entry ids, in the order of ``envelopes``."""
        if not envelopes and not before:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for write in before:
            write.queue(pipe)
        ahead = len(pipe)
        streams: dict[str, tuple[list[int], list[bytes]]] = {}
        keys, partitions = self._keys, self._partitions
        for i, envelope in enumerate(envelopes):
            key = keys[envelope.kind][envelope.ex_id % partitions]
            stream = streams.get(key)
            if stream is None:
                stream = streams[key] = ([], [ENTRY_FIELD])
            stream[0].append(i)
            stream[1].append(encode(envelope))
        for key, (_, args) in streams.items():
            if len(args) == 2:
                pipe.execute_command("XADD", key, "*", *args)
            else:
                pipe.execute_command("EVAL", XADD_ALL, 1, key, *args)
        try:
            replies: list[bytes | list[bytes]] = (await execute(pipe))[ahead:]
        except REDIS_ERRORS as e:
            raise translate(e, "publish") from e
        ids = [""] * len(envelopes)
        for (positions, _), reply in zip(streams.values(), replies, strict=True):
            entry_ids = reply if isinstance(reply, list) else [reply]
            for i, entry_id in zip(positions, entry_ids, strict=True):
                ids[i] = entry_id.decode()
        return ids
