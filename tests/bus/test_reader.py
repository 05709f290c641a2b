"""The consumer reads Redis's raw replies: entry layouts, RESP3, and no effect on the injected client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import fakeredis
import pytest
import redis.asyncio as aioredis
from bus_samples import Recorder, mixed, sample_envelope
from redis.asyncio.cluster import RedisCluster

from consumers import trade_consumer
from fullon_account_service.bus import Consumer, Delivery, Publisher, dead_letter_key, stream_key
from fullon_account_service.bus.reader import StreamEntries, entries_of, payload_of
from fullon_account_service.contract import KINDS, encode
from fullon_account_service.settings import Settings


@pytest.fixture
async def resp3_client(settings: Settings, redis_client: aioredis.Redis) -> AsyncIterator[aioredis.Redis]:
    """A RESP3 client on the same backend; ``redis_client`` first, for its wiping of real Redis."""
    if settings.redis_cluster and settings.redis_url:
        client: aioredis.Redis = cast("aioredis.Redis", RedisCluster.from_url(settings.redis_url, protocol=3))
    elif settings.redis_url:
        client = aioredis.Redis.from_url(settings.redis_url, protocol=3)
    else:
        client = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), protocol=3)
    yield client
    await client.aclose()


def test_entries_of_both_reply_shapes() -> None:
    resp2 = [[b"s1", [[b"1-0", [b"e", b"a"]], [b"1-1", [b"x", b"y", b"e", b"b"]]]], [b"s2", []]]
    resp3 = {b"s1": [[b"1-0", [b"e", b"a"]], [b"1-1", [b"x", b"y", b"e", b"b"]]], b"s2": []}
    expected = [StreamEntries("s1", [b"1-0", b"1-1"], [b"a", b"b"], [1, 1])]
    assert entries_of(resp2) == entries_of(resp3) == expected
    assert entries_of(None) == entries_of([]) == []


@pytest.mark.parametrize("fields", [None, [], [b"other", b"x"], [b"x", b"e"]])
def test_entry_without_payload_field_reads_as_empty(fields: list[bytes] | None) -> None:
    assert payload_of(fields) == b""


def test_delivery_is_a_plain_value() -> None:
    envelope = sample_envelope(1)
    delivery = Delivery("s", "1-0", envelope, 2)
    assert delivery == Delivery(stream="s", entry_id="1-0", envelope=envelope, deliveries=2)
    assert (delivery.stream, delivery.entry_id, delivery.envelope, delivery.deliveries) == (
        "s",
        "1-0",
        envelope,
        2,
    )
    with pytest.raises(AttributeError):
        delivery.deliveries = 3  # type: ignore[misc]


async def test_payload_among_other_fields_is_found(redis_client: aioredis.Redis, prefix: str) -> None:
    envelope = sample_envelope(1)
    await redis_client.xadd(stream_key(prefix, "trade"), {b"note": b"x", b"e": encode(envelope)})
    handler = Recorder()
    consumer = trade_consumer(redis_client, prefix, handler, block_ms=20)
    await consumer.ensure_groups()
    assert await consumer.run_once() == 1
    assert handler.handled == {envelope.event_id: 1}


async def test_injected_client_keeps_its_reply_parsing(redis_client: aioredis.Redis, prefix: str) -> None:
    handler = Recorder()
    consumer = trade_consumer(redis_client, prefix, handler, block_ms=20)
    await consumer.ensure_groups()
    envelope = sample_envelope(1)
    await Publisher(redis_client, prefix=prefix).publish([envelope])
    key = stream_key(prefix, "trade")
    await redis_client.xgroup_create(key, "other", id="0")
    [[name, [(_, fields)]]] = await redis_client.xreadgroup("other", "o", {key: ">"}, count=10)
    assert (name, fields) == (key.encode(), {b"e": encode(envelope)})
    assert await consumer.run_once() == 1
    claimed = await redis_client.xautoclaim(key, "other", "o2", 0, "0-0", count=10)
    assert claimed[1][0][1] == {b"e": encode(envelope)}


async def test_consume_over_resp3(resp3_client: aioredis.Redis, prefix: str) -> None:
    envelopes = mixed(8)
    await Publisher(resp3_client, prefix=prefix).publish(envelopes)
    handler = Recorder()
    consumer = Consumer(
        resp3_client, prefix=prefix, group="g", consumer="c", kinds=KINDS, handler=handler, block_ms=20
    )
    await consumer.ensure_groups()
    assert await consumer.run_once() == 8
    assert handler.handled == {e.event_id: 1 for e in envelopes}
    assert await consumer.run_once() == 0


async def test_ids_stay_with_their_envelopes_around_a_bad_entry(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    key = stream_key(prefix, "trade")
    first, second = sample_envelope(1), sample_envelope(2)
    ids = {
        first.event_id: await redis_client.xadd(key, {b"e": encode(first)}),
        "bad": await redis_client.xadd(key, {b"e": b"\xc1"}),
        second.event_id: await redis_client.xadd(key, {b"e": encode(second)}),
    }
    handler = Recorder()
    consumer = trade_consumer(redis_client, prefix, handler, block_ms=20)
    await consumer.ensure_groups()
    assert await consumer.run_once() == 3
    got = {d.envelope.event_id: d.entry_id.encode() for d in handler.deliveries}
    assert got == {first.event_id: ids[first.event_id], second.event_id: ids[second.event_id]}
    [(_, letter)] = await redis_client.xrange(dead_letter_key(prefix))
    assert letter[b"entry_id"] == ids["bad"]
    assert (await redis_client.xpending(key, "g"))["pending"] == 0


async def test_one_failing_entry_leaves_only_itself_pending(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    envelopes = mixed(8)
    poison = envelopes[5]
    await Publisher(redis_client, prefix=prefix).publish(envelopes)
    handler = Recorder(fail_ids=[poison.event_id], error=ValueError("boom"))
    consumer = Consumer(
        redis_client, prefix=prefix, group="g", consumer="c", kinds=KINDS, handler=handler, block_ms=20
    )
    await consumer.ensure_groups()
    assert await consumer.run_once() == 7
    assert handler.handled == {e.event_id: 1 for e in envelopes if e is not poison}
    pending = {k: (await redis_client.xpending(stream_key(prefix, k), "g"))["pending"] for k in KINDS}
    assert pending == {k: int(k == poison.kind) for k in KINDS}
