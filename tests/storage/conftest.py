"""Storage fixtures. The Redis caches' tests also run on a private Redis Cluster (``cluster_session``)."""

from __future__ import annotations

from cluster_overrides import redis_client, settings

__all__ = ["redis_client", "settings"]
