"""Alembic environment: async engines, one schema for PostgreSQL and SQLite.

``storage.db.migrate`` hands in an open connection (``config.attributes["connection"]``); the
plain ``alembic`` command gets none and opens its own async engine from ``sqlalchemy.url``.
SQLite runs in batch mode, since it can only alter a table by copying it. Our revision lives in
``fullon_account_alembic_version`` (``storage.db.version_table``): fullon_orm owns
``alembic_version``, and an earlier install of ours that wrote there is moved over first.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from fullon_account_service.storage.db.models import Base
from fullon_account_service.storage.db.schema_names import VERSION_TABLE
from fullon_account_service.storage.db.version_table import adopt_legacy_revision

config = context.config
target_metadata = Base.metadata


def _our_revisions() -> set[str]:
    return {script.revision for script in context.script.walk_revisions()}


def _configure(connection: Connection) -> None:
    adopt_legacy_revision(connection, _our_revisions())
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_configure)
    finally:
        await engine.dispose()


def _run_offline(url: str) -> None:
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
        version_table=VERSION_TABLE,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        _configure(given)
        return
    url = config.get_main_option("sqlalchemy.url") or ""
    if context.is_offline_mode():
        _run_offline(url)
    else:
        asyncio.run(_run_with_own_engine(url))


_main()
