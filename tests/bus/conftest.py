"""Bus fixtures.

With ``ACCOUNT_TEST_REDIS_CLUSTER=1`` the bus suite runs against a private Redis Cluster (3
masters, a replica each, on loopback ports: ``bench/cluster_servers.py``) started once for the
session: ``settings`` and ``redis_client`` then point there, and the tests marked ``cluster``
(a failover during consumption) run too; without it they are skipped. ``.ci/run`` runs this suite
a third time that way.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from cluster_servers import LocalCluster  # noqa: E402
from fullon_account_service.redis_client import cluster_client  # noqa: E402
from fullon_account_service.settings import Settings  # noqa: E402

CLUSTER = os.environ.get("ACCOUNT_TEST_REDIS_CLUSTER", "").strip() not in ("", "0")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if CLUSTER:
        return
    skip = pytest.mark.skip(reason="needs ACCOUNT_TEST_REDIS_CLUSTER=1 (a private Redis Cluster)")
    for item in items:
        if "cluster" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def local_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster | None]:
    if not CLUSTER:
        yield None
        return
    cluster = LocalCluster(tmp_path_factory.mktemp("redis-cluster"))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def settings(settings: Settings, local_cluster: LocalCluster | None) -> Settings:
    if local_cluster is None:
        return settings
    return dataclasses.replace(settings, redis_url=local_cluster.url, redis_cluster=True)


@pytest.fixture
async def redis_client(
    redis_client: aioredis.Redis, local_cluster: LocalCluster | None
) -> AsyncIterator[aioredis.Redis]:
    """The suite's client; on the cluster, one emptied on every master (the cluster is private)."""
    if local_cluster is None:
        yield redis_client
        return
    local_cluster.wait_healthy()  # a test that failed over may leave a replica still syncing
    client = cluster_client(local_cluster.url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
def prefix(settings: Settings) -> str:
    return settings.stream_prefix
