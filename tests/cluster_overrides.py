"""``settings`` and ``redis_client`` on the private Redis Cluster when the session has one.

A suite's conftest imports both to run on the cluster under ``ACCOUNT_TEST_REDIS_CLUSTER=1``
(``cluster_session``); without it they hand back the root conftest's fixtures unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from cluster_servers import LocalCluster
from fullon_account_service.redis_client import cluster_client
from fullon_account_service.settings import Settings


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
    local_cluster.flush()
    client = cluster_client(local_cluster.url)
    yield client
    await client.aclose()
