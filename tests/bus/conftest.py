"""Bus fixtures. The suite also runs on a private Redis Cluster (``cluster_session``)."""

from __future__ import annotations

import pytest

from cluster_overrides import redis_client, settings
from fullon_account_service.settings import Settings

__all__ = ["redis_client", "settings"]


@pytest.fixture
def prefix(settings: Settings) -> str:
    return settings.stream_prefix
