"""Fixtures shared by every suite.

One suite, two backends: with ``REDIS_URL`` / ``DATABASE_URL`` set the tests run on the real
services (and wipe the Redis database and the tables they use first); without, on fakeredis and a
temporary SQLite file.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import fakeredis
import pytest
import redis
import redis.asyncio as aioredis
from fakeredis import TcpFakeServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from fullon_account_service import gc_freeze
from fullon_account_service.settings import Settings
from fullon_account_service.storage.db.engine import make_engine, make_session_factory
from fullon_account_service.storage.db.migrate import upgrade
from fullon_account_service.storage.db.models import Base
from fullon_account_service.storage.db.schema_names import VERSION_TABLE

pytest_plugins = ("cluster_session", "sink_samples", "xdist_backends")


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Each test starts with no venue frozen (its first market load freezes, as in a producer)
    and gives the test process its collector back."""
    saved = set(gc_freeze._frozen)
    gc_freeze._frozen.clear()
    yield
    gc.unfreeze()
    gc_freeze._frozen.clear()
    gc_freeze._frozen.update(saved)


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


@pytest.fixture
async def database_url(settings: Settings) -> AsyncIterator[str]:
    """``DATABASE_URL`` emptied of our tables (and of Alembic's record), else a fresh SQLite file."""
    url = settings.database_url
    if not settings.is_sqlite:
        tables = ", ".join([t.name for t in Base.metadata.sorted_tables] + ["alembic_version", VERSION_TABLE])
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(f"DROP TABLE IF EXISTS {tables} CASCADE"))
        finally:
            await engine.dispose()
    yield url


@pytest.fixture
async def db_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session_factory(database_url: str, db_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on a database migrated to the latest revision."""
    await upgrade(database_url)
    return make_session_factory(db_engine)


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis another process can reach: the real one (wiped) when ``REDIS_URL`` is set, else a
    fakeredis TCP server on 127.0.0.1 for the length of the test."""
    url = os.environ.get("REDIS_URL")
    if url:
        client = redis.Redis.from_url(url)
        client.flushdb()
        client.close()
        yield url
        return
    server = TcpFakeServer(("127.0.0.1", 0), server_version=(7, 0))
    thread = threading.Thread(target=server.serve_forever, name="fake-redis-tcp", daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{server.server_address[1]}/0"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
