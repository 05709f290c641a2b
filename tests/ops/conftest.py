"""Fixtures for running the ``fullon-account`` command line against the test backends.

``cli_env`` is the environment a CLI invocation sees: the test's own data directory, and the real
database when ``DATABASE_URL`` is set (emptied and migrated first, as the shared fixtures do).
``redis_url`` (a Redis another process can reach) comes from the shared conftest. ``stored`` is
the module's ``truth`` stored through the real sinks (``stored_truth``), for the books checks.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from ops_helpers import PREFIX
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stored_truth import AccountIds, store_truth

from fullon_account_service.storage.db.engine import make_engine
from fullon_account_service.storage.db.migrate import upgrade
from fullon_account_service.storage.db.models import Base
from fullon_account_service.storage.db.schema_names import VERSION_TABLE


async def _reset_database(url: str) -> None:
    tables = ", ".join([t.name for t in Base.metadata.sorted_tables] + ["alembic_version", VERSION_TABLE])
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP TABLE IF EXISTS {tables} CASCADE"))
    finally:
        await engine.dispose()
    await upgrade(url)


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for CLI runs: PostgreSQL emptied and migrated, or a SQLite file the CLI creates."""
    env = {
        "ACCOUNT_DATA_DIR": str(tmp_path / "data"),
        "ACCOUNT_STREAM_PREFIX": PREFIX,
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": os.environ.get("DATABASE_URL", ""),
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "ACCOUNT_SECRETS_FILE": "",
        "ACCOUNT_EXCHANGE_OVERRIDES": "",
    }
    if env["DATABASE_URL"]:
        asyncio.run(_reset_database(env["DATABASE_URL"]))
    return env


@pytest.fixture
async def stored(
    session_factory: async_sessionmaker[AsyncSession], redis_client: aioredis.Redis, truth: dict[str, Any]
) -> AccountIds:
    """The module's ``truth`` fixture, stored through the real sinks."""
    return await store_truth(session_factory, redis_client, truth)
