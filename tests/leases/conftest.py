"""Lease fixtures. The suite also runs on a private Redis Cluster (``cluster_session``): every
lease script must touch one slot."""

from __future__ import annotations

from cluster_overrides import redis_client, settings

__all__ = ["redis_client", "settings"]
