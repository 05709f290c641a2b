"""Alembic builds exactly the models' schema, on PostgreSQL (DATABASE_URL) and on SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from fullon_account_service.storage.db.engine import make_engine
from fullon_account_service.storage.db.migrate import current, downgrade, upgrade
from fullon_account_service.storage.db.models import Base


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def _check_matches_models(url: str) -> None:
    assert await current(url) is None
    await upgrade(url)
    assert await current(url) == "0004"
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_differences) == []
            ours = {"users", "cat_exchanges", "exchanges", "orders", "trades", "trade_books"}
            assert ours <= await conn.run_sync(_tables)
    finally:
        await engine.dispose()


async def test_upgrade_on_a_clean_database_matches_the_models(database_url: str) -> None:
    await _check_matches_models(database_url)


async def test_upgrade_on_sqlite_matches_the_models(tmp_path: Path) -> None:
    await _check_matches_models(f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'schema.db'}")


async def test_downgrade_then_upgrade_round_trips(database_url: str) -> None:
    await upgrade(database_url)
    await upgrade(database_url)  # already at head: nothing to do
    await downgrade(database_url)
    assert await current(database_url) is None
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            assert not {"orders", "trades", "users", "trade_books"} & await conn.run_sync(_tables)
    finally:
        await engine.dispose()
    await upgrade(database_url)
    assert await current(database_url) == "0004"
