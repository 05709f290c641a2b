"""Partitioned streams: names, an account's order, trimming, dead letters, lag; a cluster failover."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import fakeredis
import pytest
import redis.asyncio as aioredis
from bus_samples import Recorder, sample_envelope
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from cluster_servers import LocalCluster
from factories import NOW_MS, envelope, fill
from fullon_account_service.bus import Consumer, Publisher, stream_key
from fullon_account_service.bus.deadletter import dead_letter
from fullon_account_service.bus.dlq_ops import LetterFilter, get_letters, read_letters, replay
from fullon_account_service.bus.slots import slot_groups
from fullon_account_service.bus.streams import (
    event_streams,
    kind_of_stream,
    partition_key,
    partition_keys,
)
from fullon_account_service.contract import KINDS, Envelope, encode
from fullon_account_service.errors import TransientError
from fullon_account_service.health import collect_health, read_groups
from fullon_account_service.redis_client import cluster_client
from fullon_account_service.retry import RetryPolicy

PARTITIONS = 3
DEADLINE_S = 60.0


def trade(i: int, ex_id: int) -> Envelope:
    return envelope(fill(f"t-{ex_id}-{i}", time_ms=NOW_MS + i), ex_id=ex_id, exchange_ms=NOW_MS + i)


def sink(redis: aioredis.Redis, prefix: str, handler: Recorder, **kw: int) -> Consumer:
    return Consumer(
        redis,
        prefix=prefix,
        group="g",
        consumer="c",
        kinds=("trade", "balance"),
        handler=handler,
        block_ms=20,
        partitions=PARTITIONS,
        **kw,
    )


@pytest.mark.parametrize("n", [2, 3, 6, 16])
def test_partitions_spread_over_equal_slot_ranges(n: int) -> None:
    keys = partition_keys("p:", "trade", n)
    assert len(set(keys)) == n
    assert [key_slot(k.encode()) * n // REDIS_CLUSTER_HASH_SLOTS for k in keys] == list(range(n))
    # The kinds of one partition share its slot, so one XREADGROUP reads them together.
    assert {key_slot(partition_key("p:", kind, 1, n).encode()) for kind in KINDS} == {
        key_slot(keys[1].encode())
    }
    assert all(kind_of_stream("p:", k) == "trade" for k in keys)


def test_one_partition_is_the_plain_stream() -> None:
    assert partition_keys("p:", "order", 1) == (stream_key("p:", "order"),) == ("p:order",)
    assert event_streams("p:", ["order", "trade"], 1) == ["p:order", "p:trade"]
    assert kind_of_stream("p:", "p:order") == "order"
    assert kind_of_stream("p:", "p:dead") is None
    assert kind_of_stream("p:", "q:order") is None


def test_reads_are_grouped_by_slot_only_on_a_cluster() -> None:
    streams = event_streams("p:", ["trade", "balance"], PARTITIONS)
    one_node = fakeredis.FakeAsyncRedis()
    assert slot_groups(one_node, streams) == [tuple(streams)]
    groups = slot_groups(cluster_client("redis://127.0.0.1:1/0"), streams)  # built, never connected
    assert sorted(groups) == sorted(
        (partition_key("p:", "trade", i, PARTITIONS), partition_key("p:", "balance", i, PARTITIONS))
        for i in range(PARTITIONS)
    )
    assert slot_groups(one_node, []) == []


async def test_each_account_keeps_its_order_across_partitions(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    publisher = Publisher(redis_client, prefix=prefix, partitions=PARTITIONS)
    sent = [trade(i, ex_id) for i in range(20) for ex_id in range(1, 10)]
    await publisher.publish(sent)
    for ex_id in range(1, 10):  # each account's events all on its partition
        key = partition_key(prefix, "trade", ex_id % PARTITIONS, PARTITIONS)
        assert any(e.ex_id == ex_id for e in sent)
        assert await redis_client.xlen(key) == 3 * 20
    handler = Recorder()
    consumer = sink(redis_client, prefix, handler, batch_size=7)
    await consumer.ensure_groups()
    async with asyncio.timeout(DEADLINE_S):
        while sum(handler.handled.values()) < len(sent):
            await consumer.run_once()
    assert handler.handled == {e.event_id: 1 for e in sent}
    seen: dict[int, list[int]] = defaultdict(list)
    for delivery in handler.deliveries:
        seen[delivery.envelope.ex_id].append(int(delivery.envelope.exchange_ms or 0))
    assert all(times == sorted(times) and len(times) == 20 for times in seen.values())
    # Trimming and the lag reading cover every partition.
    assert await consumer.trim() == len(sent)
    report = await collect_health(redis_client, prefix, partitions=PARTITIONS)
    trade_streams = {g.stream for g in report.groups if kind_of_stream(prefix, g.stream) == "trade"}
    assert trade_streams == set(partition_keys(prefix, "trade", PARTITIONS))
    assert all(g.lag == 0 and g.pending == 0 for g in report.groups)
    assert report.healthy, report.problems


async def test_health_sees_lag_on_one_partition(redis_client: aioredis.Redis, prefix: str) -> None:
    """A partition nobody consumes shows its own lag, and fails the probe when it is too far behind."""
    await sink(redis_client, prefix, Recorder()).ensure_groups()
    await Publisher(redis_client, prefix=prefix, partitions=PARTITIONS).publish(
        [trade(i, 4) for i in range(5)]
    )
    groups = await read_groups(redis_client, prefix, PARTITIONS)
    lagging = {g.stream: g.lag for g in groups if g.lag}
    assert lagging == {partition_key(prefix, "trade", 4 % PARTITIONS, PARTITIONS): 5}
    report = await collect_health(redis_client, prefix, partitions=PARTITIONS, max_lag=3)
    assert not report.healthy
    assert any("lags by 5" in problem for problem in report.problems)


async def test_a_dead_letter_goes_back_to_its_partition(redis_client: aioredis.Redis, prefix: str) -> None:
    publisher = Publisher(redis_client, prefix=prefix, partitions=PARTITIONS)
    bad = trade(0, ex_id=5)
    await publisher.publish([trade(1, 4), bad])
    handler = Recorder(fail_ids=[bad.event_id])
    consumer = sink(redis_client, prefix, handler, max_deliveries=1)
    await consumer.ensure_groups()
    async with asyncio.timeout(DEADLINE_S):
        while not await redis_client.xlen(f"{prefix}dead"):
            await consumer.run_once()
    [letter] = await read_letters(redis_client, prefix, LetterFilter())
    origin = partition_key(prefix, "trade", 5 % PARTITIONS, PARTITIONS)
    assert (letter.stream, letter.kind, letter.ex_id) == (origin, "trade", 5)
    result = await replay(redis_client, prefix, [letter], partitions=PARTITIONS)
    assert [stream for _, stream, _ in result.replayed] == [origin]
    handler.fail_ids.clear()
    async with asyncio.timeout(DEADLINE_S):
        while bad.event_id not in handler.handled:
            await consumer.run_once()


async def test_a_dead_letter_goes_to_its_accounts_partition_after_a_change_of_partitions(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    """A letter taken from the plain stream (one partition then) goes back to its account's
    partition once there are 3: the plain stream is read by no sink any more."""
    bad = trade(0, ex_id=5)
    plain = stream_key(prefix, "trade")
    letter_id = await dead_letter(redis_client, prefix=prefix, reason="r", payload=encode(bad), stream=plain)
    letters = await get_letters(redis_client, prefix, [letter_id])
    result = await replay(redis_client, prefix, letters, partitions=PARTITIONS)
    target = Publisher(redis_client, prefix=prefix, partitions=PARTITIONS).key("trade", 5)
    assert [stream for _, stream, _ in result.replayed] == [target] != [plain]
    [(_, fields)] = await redis_client.xrange(target)
    assert fields == {b"e": encode(bad)}
    assert not await redis_client.exists(plain)


@pytest.mark.once
async def test_master_failover_during_consumption_loses_nothing(
    prefix: str, private_cluster: LocalCluster
) -> None:
    """CLUSTER FAILOVER of the master holding partition 0 while a producer publishes and a
    consumer reads: every event is handled, at least once. On a private cluster whatever the
    session's backends."""
    private_cluster.wait_healthy()
    private_cluster.flush()
    client = cluster_client(private_cluster.url)
    try:
        await _failover_during_consumption(client, prefix, private_cluster)
    finally:
        await client.aclose()


async def _failover_during_consumption(
    redis_client: aioredis.Redis, prefix: str, local_cluster: LocalCluster
) -> None:
    publisher = Publisher(redis_client, prefix=prefix, partitions=PARTITIONS)
    handler = Recorder()
    consumer = sink(redis_client, prefix, handler)
    await consumer.ensure_groups()
    sent: list[Envelope] = []
    stop = asyncio.Event()
    retry = RetryPolicy.exponential(0.05, 0.5)

    async def produce() -> None:
        for batch in range(40):
            envelopes = [trade(batch, ex_id) for ex_id in range(1, 7)] + [sample_envelope(batch, "balance")]
            attempts = retry.start()
            while True:  # the outbox's way: the same batch again until it lands
                try:
                    await publisher.publish(envelopes)
                    break
                except TransientError:
                    await asyncio.sleep(attempts.next())
            sent.extend(envelopes)
            if batch == 20:
                target = local_cluster.master_of(partition_key(prefix, "trade", 0, PARTITIONS))
                await asyncio.to_thread(local_cluster.failover, target)

    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(consumer.run(stop))
        await produce()
        async with asyncio.timeout(DEADLINE_S):
            while not {e.event_id for e in sent} <= set(handler.handled):
                await asyncio.sleep(0.05)
        stop.set()
    assert set(handler.handled) == {e.event_id for e in sent}
