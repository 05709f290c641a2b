"""Publish, consume, acknowledge: the happy path on both backends."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from bus_samples import Recorder, mixed, sample_envelope

from fullon_account_service.bus import Consumer, Publisher, stream_key
from fullon_account_service.contract import KINDS, Envelope, decode
from fullon_account_service.errors import ContractError, TransientError


def by_id(envelope: Envelope) -> str:
    return envelope.event_id


def consumer(
    redis: aioredis.Redis, prefix: str, handler: Recorder, *, group: str = "sink", name: str = "c1", **kw: int
) -> Consumer:
    return Consumer(
        redis, prefix=prefix, group=group, consumer=name, kinds=KINDS, handler=handler, block_ms=50, **kw
    )


async def test_publish_puts_each_kind_on_its_stream(redis_client: aioredis.Redis, prefix: str) -> None:
    envelopes = mixed(2 * len(KINDS))
    ids = await Publisher(redis_client, prefix=prefix).publish(envelopes)
    assert len(ids) == 2 * len(KINDS)
    for envelope, entry_id in zip(envelopes, ids, strict=True):
        [(got_id, fields)] = await redis_client.xrange(stream_key(prefix, envelope.kind), entry_id, entry_id)
        assert got_id.decode() == entry_id
        assert decode(fields[b"e"]) == envelope
    for kind in KINDS:
        assert await redis_client.xlen(stream_key(prefix, kind)) == 2


async def test_publish_nothing(redis_client: aioredis.Redis, prefix: str) -> None:
    assert await Publisher(redis_client, prefix=prefix).publish([]) == []


async def test_consume_and_ack(redis_client: aioredis.Redis, prefix: str) -> None:
    envelopes = mixed(12)
    await Publisher(redis_client, prefix=prefix).publish(envelopes)
    handler = Recorder()
    sink = consumer(redis_client, prefix, handler)
    await sink.ensure_groups()
    assert await sink.run_once() == 12
    assert handler.handled == {e.event_id: 1 for e in envelopes}
    assert sorted((d.envelope for d in handler.deliveries), key=by_id) == sorted(envelopes, key=by_id)
    assert all(d.deliveries == 1 for d in handler.deliveries)
    for kind in KINDS:
        assert (await redis_client.xpending(stream_key(prefix, kind), "sink"))["pending"] == 0
    assert await sink.run_once() == 0
    assert handler.calls == 1


async def test_batch_size_bounds_a_round(redis_client: aioredis.Redis, prefix: str) -> None:
    envelopes = [sample_envelope(i) for i in range(25)]
    await Publisher(redis_client, prefix=prefix).publish(envelopes)
    handler = Recorder()
    sink = Consumer(
        redis_client, prefix=prefix, group="g", consumer="c", kinds=["trade"], handler=handler, batch_size=10
    )
    await sink.ensure_groups()
    assert [await sink.run_once() for _ in range(4)] == [10, 10, 5, 0]
    delivered = [d.envelope for d in handler.deliveries]
    assert delivered == envelopes  # in stream order


async def test_consumer_sees_only_its_kinds(redis_client: aioredis.Redis, prefix: str) -> None:
    await Publisher(redis_client, prefix=prefix).publish(mixed(8))
    handler = Recorder()
    sink = Consumer(redis_client, prefix=prefix, group="g", consumer="c", kinds=["order"], handler=handler)
    await sink.ensure_groups()
    assert await sink.run_once() == 2
    assert {d.envelope.kind for d in handler.deliveries} == {"order"}


async def test_multiple_groups_each_get_everything(redis_client: aioredis.Redis, prefix: str) -> None:
    envelopes = mixed(10)
    await Publisher(redis_client, prefix=prefix).publish(envelopes)
    cache, sql = Recorder(), Recorder()
    for group, handler in (("cache", cache), ("sql", sql)):
        sink = consumer(redis_client, prefix, handler, group=group)
        await sink.ensure_groups()
        assert await sink.run_once() == 10
    assert cache.handled == sql.handled == {e.event_id: 1 for e in envelopes}


async def test_two_consumers_of_one_group_split_the_work(redis_client: aioredis.Redis, prefix: str) -> None:
    envelopes = [sample_envelope(i) for i in range(20)]
    await Publisher(redis_client, prefix=prefix).publish(envelopes)
    handler = Recorder()
    first = consumer(redis_client, prefix, handler, name="a", batch_size=8)
    second = consumer(redis_client, prefix, handler, name="b", batch_size=8)
    await first.ensure_groups()
    await second.ensure_groups()  # idempotent
    total = 0
    async with asyncio.timeout(60):
        while total < 20:
            total += await first.run_once() + await second.run_once()
    assert handler.handled == {e.event_id: 1 for e in envelopes}


async def test_group_created_late_reads_history(redis_client: aioredis.Redis, prefix: str) -> None:
    await Publisher(redis_client, prefix=prefix).publish(mixed(4))
    handler = Recorder()
    sink = consumer(redis_client, prefix, handler, group="late")
    await sink.ensure_groups()
    assert await sink.run_once() == 4


@pytest.mark.parametrize("read_ahead", [False, True])
async def test_missing_group_is_recreated(
    redis_client: aioredis.Redis, prefix: str, read_ahead: bool
) -> None:
    handler = Recorder()
    sink = consumer(redis_client, prefix, handler, read_ahead=read_ahead)
    await sink.ensure_groups()
    await redis_client.delete(*(stream_key(prefix, kind) for kind in KINDS))
    assert await sink.run_once() == 0
    await Publisher(redis_client, prefix=prefix).publish(mixed(4))
    assert await sink.run_once() == 4
    assert await sink.run_once() == 0  # and nothing is left read ahead


async def test_publish_to_unreachable_redis_is_transient() -> None:
    dead = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    try:
        with pytest.raises(TransientError, match="publish"):
            await Publisher(dead, prefix="x:").publish(mixed(2))
    finally:
        await dead.aclose()


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ContractError, match="withdrawal"):
        stream_key("x:", "withdrawal")


async def test_run_until_stopped(redis_client: aioredis.Redis, prefix: str) -> None:
    handler = Recorder()
    sink = consumer(redis_client, prefix, handler)
    stop = asyncio.Event()
    task = asyncio.create_task(sink.run(stop), name="test-consumer")
    envelopes = mixed(6)
    await Publisher(redis_client, prefix=prefix).publish(envelopes)
    async with asyncio.timeout(60):
        while sum(handler.handled.values()) < 6:
            await asyncio.sleep(0.01)
        stop.set()
        await task
    assert handler.handled == {e.event_id: 1 for e in envelopes}


async def test_run_survives_an_outage_and_stops() -> None:
    dead = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    sink = Consumer(dead, prefix="x:", group="g", consumer="c", kinds=KINDS, handler=Recorder())
    stop = asyncio.Event()
    task = asyncio.create_task(sink.run(stop), name="test-consumer-outage")
    await asyncio.sleep(0.5)
    assert not task.done()
    stop.set()
    async with asyncio.timeout(60):
        await task
    await dead.aclose()
