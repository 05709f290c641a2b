"""Running the Alembic migrations from code, on the same async engine the service uses.

Alembic is synchronous; each command runs inside ``AsyncConnection.run_sync`` on a connection we
open (``env.py`` picks it up from ``config.attributes``), so it works from a running event loop
and on both backends. The migration scripts ship inside the package: no ``alembic.ini`` needed.

Alembic only knows the revision it recorded, so a table dropped by hand (or lost with a restore)
leaves a database that says it is at head and cannot store anything. ``upgrade`` to head therefore
also re-creates, from the models, every table of the schema the database lacks: the tables the
models describe are the head revision's (a test compares them), so this is the migration's result.
It never alters or drops an existing table.

The revision is kept in our own version table (``version_table``), so fullon_orm's
``alembic_version`` in a shared database is never touched.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from fullon_account_service.storage.db.engine import make_engine
from fullon_account_service.storage.db.errors import translating
from fullon_account_service.storage.db.models import Base
from fullon_account_service.storage.db.time_ms_trigger import time_ms_trigger

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


async def upgrade(database_url: str, revision: str = "head") -> list[str]:
    """Migrate to ``revision``; at head, also re-create missing tables. The tables re-created."""
    await _run(database_url, lambda cfg: command.upgrade(cfg, revision), "upgrade")
    if revision != "head":
        return []
    return await restore_missing_tables(database_url)


async def restore_missing_tables(database_url: str) -> list[str]:
    """Create the head schema's tables the database lacks (with their indexes); their names."""
    engine = make_engine(database_url)
    try:
        async with translating("restore missing tables"), engine.begin() as conn:
            return await conn.run_sync(_create_missing)
    finally:
        await engine.dispose()


def _create_missing(connection: Connection) -> list[str]:
    existing = set(inspect(connection).get_table_names())
    missing = [table for table in Base.metadata.sorted_tables if table.name not in existing]
    if missing:
        Base.metadata.create_all(connection, tables=missing)
    if "trades" in {table.name for table in missing}:
        for statement in time_ms_trigger(connection.dialect.name):
            connection.exec_driver_sql(statement)
    return [table.name for table in missing]


async def downgrade(database_url: str, revision: str = "base") -> None:
    await _run(database_url, lambda cfg: command.downgrade(cfg, revision), "downgrade")


async def _run(database_url: str, action: Callable[[Config], None], name: str) -> None:
    engine = make_engine(database_url)
    config = alembic_config(database_url)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        action(config)

    try:
        async with translating(f"migration {name}"), engine.begin() as conn:
            await conn.run_sync(run)
    finally:
        await engine.dispose()
