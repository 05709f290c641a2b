"""Building the async engine: the one place that knows per-backend connection settings.

SQLite gets WAL (readers never block the sink's writer), foreign keys (off by default there) and
a busy timeout, so the embedded backend behaves like a small PostgreSQL rather than a file lock.

PostgreSQL plans every execution with its parameters (``plan_cache_mode = force_custom_plan``).
asyncpg prepares each statement once per connection, and after five executions PostgreSQL may
keep one generic plan for it, costed on the table as it was then: planned while ``trades`` was
empty, the ORM sink's checkpoint read kept a sequential scan of ``trades`` per checkpoint as the
table grew, and the database's CPU per stored trade rose tenfold (``bench/sinks.py``, RESULTS.md).
A custom plan costs a fraction of a millisecond per statement, and a sink sends three per batch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=10000",
)


def make_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        connect_args = {"server_settings": {"plan_cache_mode": "force_custom_plan"}}
        return create_async_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, **kwargs)
    event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Objects stay readable after commit: sinks and tools use them once the transaction is over."""
    return async_sessionmaker(engine, expire_on_commit=False)
