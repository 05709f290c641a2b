"""The private Redis Cluster some suites run against with ``ACCOUNT_TEST_REDIS_CLUSTER=1``.

A plugin of the root conftest: the cluster (3 masters, a replica each, on loopback ports:
``bench/cluster_servers.py``) is started at most once per session, by the first test that asks
for it, and killed at the end. Without the variable ``local_cluster`` is None; a test that needs a
cluster of its own (a failover during consumption) asks for ``private_cluster``, which starts it
whatever the backends, and is marked ``once``. The suites that run on it import their
``settings`` / ``redis_client`` overrides from ``cluster_overrides``; ``.ci/run`` runs them a
third time that way.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from cluster_servers import LocalCluster  # noqa: E402

CLUSTER = os.environ.get("ACCOUNT_TEST_REDIS_CLUSTER", "").strip() not in ("", "0")


@pytest.fixture(scope="session")
def private_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A private Redis Cluster, whatever the session's backends: for the suites run on it, and
    for the tests that need one of their own (a master failover)."""
    cluster = LocalCluster(tmp_path_factory.mktemp("redis-cluster"))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def local_cluster(request: pytest.FixtureRequest) -> LocalCluster | None:
    """The cluster the suites run on under ``ACCOUNT_TEST_REDIS_CLUSTER=1``; ``None`` otherwise."""
    return request.getfixturevalue("private_cluster") if CLUSTER else None
