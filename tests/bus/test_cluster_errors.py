"""redis-py's cluster client raises ``RedisClusterException`` outside ``RedisError`` (mid-failover:
a slot with no master, nodes that disagree on the slots). At the bus boundary it becomes one of
our errors, and a consumer that cannot clear its error record at stop still stops cleanly."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
import redis.asyncio as aioredis
from bus_samples import sample_envelope
from redis import exceptions as rex

from consumers import trade_consumer
from fullon_account_service.bus import Delivery, Publisher
from fullon_account_service.bus.redis_errors import translate
from fullon_account_service.bus.sink_status import TTL_S, status_key
from fullon_account_service.errors import AccountServiceError, FatalError, TransientError
from retry_policies import QUICK

DEADLINE_S = 30.0


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (rex.SlotNotCoveredError('Slot "12" not covered by the cluster.'), TransientError),
        (rex.RedisClusterException("Redis Cluster cannot be connected. Please provide..."), TransientError),
        (
            rex.RedisClusterException("startup_nodes could not agree on a valid slots cache: a vs b"),
            TransientError,
        ),
        (
            rex.RedisClusterException("All slots are not covered after query all startup_nodes."),
            TransientError,
        ),
        (rex.RedisClusterException("XREADGROUP - all keys must map to the same key slot"), FatalError),
        (rex.CrossSlotTransactionError("keys in different slots"), FatalError),
        (rex.ClusterDownError("CLUSTERDOWN The cluster is down"), TransientError),
    ],
)
def test_cluster_errors_become_ours(error: rex.RedisError, expected: type[AccountServiceError]) -> None:
    translated = translate(error, "consume")
    assert type(translated) is expected
    assert str(translated).startswith(f"redis consume failed: {type(error).__name__}: ")


async def test_a_cluster_error_is_waited_out_and_a_failing_status_clear_does_not_stop_the_stop(
    redis_client: aioredis.Redis, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The group cannot be created at first (a slot without a master): the consumer records why
    and waits; then it consumes, and deleting its error record keeps failing, in the loop and at
    stop. It stops as told, with nothing raised, and the record is left to expire."""
    key = status_key(prefix, "g", "c")
    create, delete = redis_client.xgroup_create, redis_client.delete
    failed_creates: list[str] = []

    async def xgroup_create(*args: Any, **kwargs: Any) -> Any:
        if not failed_creates:
            failed_creates.append(args[0])
            raise rex.SlotNotCoveredError('Slot "1" not covered by the cluster.')
        return await create(*args, **kwargs)

    async def failing_delete(*names: Any) -> Any:
        if key in names:
            raise rex.RedisClusterException("startup_nodes could not agree on a valid slots cache")
        return await delete(*names)

    monkeypatch.setattr(redis_client, "xgroup_create", xgroup_create)
    monkeypatch.setattr(redis_client, "delete", failing_delete)
    stop = asyncio.Event()
    handled: list[str] = []

    async def handle(batch: Sequence[Delivery]) -> None:
        handled.extend(d.envelope.event_id for d in batch)
        stop.set()

    event = sample_envelope(1)
    await Publisher(redis_client, prefix=prefix).publish([event])
    consumer = trade_consumer(redis_client, prefix, handle, block_ms=50, retry=QUICK)
    await asyncio.wait_for(consumer.run(stop), DEADLINE_S)
    assert failed_creates and handled == [event.event_id]
    assert await redis_client.exists(key)
    assert 0 < await redis_client.ttl(key) <= TTL_S
