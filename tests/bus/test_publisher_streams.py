"""The publisher's one command per stream (a script call, or a plain XADD for a single entry):
entries in the batch's order on each stream, ids in the order of the envelopes, and an entry
Redis refuses raises with Redis' own reply."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from bus_samples import sample_envelope

from factories import envelope, fill
from fullon_account_service.bus import Publisher, stream_key
from fullon_account_service.bus.streams import partition_key
from fullon_account_service.contract import KINDS, decode
from fullon_account_service.errors import FatalError


async def test_interleaved_kinds_and_accounts_keep_each_streams_order(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    partitions = 2
    envelopes = [
        envelope(fill(f"t-{i}", ex_order_id=f"o-{i}"), ex_id=1 + i % 3)
        if i % 2
        else sample_envelope(i, KINDS[i % len(KINDS)])
        for i in range(40)
    ]
    ids = await Publisher(redis_client, prefix=prefix, partitions=partitions).publish(envelopes)
    for kind in KINDS:
        for index in range(partitions):
            key = partition_key(prefix, kind, index, partitions)
            mine = [
                (e, entry_id)
                for e, entry_id in zip(envelopes, ids, strict=True)
                if e.kind == kind and e.ex_id % partitions == index
            ]
            stored = await redis_client.xrange(key)
            assert [(decode(fields[b"e"]), got.decode()) for got, fields in stored] == mine
            assert all(list(fields) == [b"e"] for _, fields in stored)


@pytest.mark.parametrize("per_stream", [1, 3], ids=["xadd", "script"])
async def test_a_refused_stream_raises_its_reply_and_the_other_streams_are_written(
    redis_client: aioredis.Redis, prefix: str, per_stream: int
) -> None:
    await redis_client.set(stream_key(prefix, "order"), b"not a stream")
    kinds = ("trade", "order", "balance") * per_stream
    envelopes = [sample_envelope(i, kind) for i, kind in enumerate(kinds)]
    with pytest.raises(FatalError, match="WRONGTYPE"):
        await Publisher(redis_client, prefix=prefix).publish(envelopes)
    assert await redis_client.xlen(stream_key(prefix, "trade")) == per_stream
    assert await redis_client.xlen(stream_key(prefix, "balance")) == per_stream
