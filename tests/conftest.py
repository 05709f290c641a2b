"""Fixtures shared by every suite.

One suite, two backends: with ``REDIS_URL`` / ``DATABASE_URL`` set the tests run on the real
services (and wipe the Redis database and the tables they use first); without, on fakeredis and a
temporary SQLite file.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import fakeredis
import pytest
import redis.asyncio as aioredis

from fullon_account_service.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    env = {k: v for k, v in os.environ.items() if k in ("REDIS_URL", "DATABASE_URL")}
    env["ACCOUNT_DATA_DIR"] = str(tmp_path)
    env["ACCOUNT_STREAM_PREFIX"] = "test:account:"
    env["ACCOUNT_CLAIM_IDLE_MS"] = "200"
    return Settings.from_env(env)


@pytest.fixture
async def redis_client(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    if settings.redis_url:
        client: aioredis.Redis = aioredis.Redis.from_url(settings.redis_url)
        await client.flushdb()
    else:
        client = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    yield client
    await client.aclose()
