"""Alembic builds exactly the models' schema, on PostgreSQL (DATABASE_URL) and on SQLite.

The comparison covers column types, nullability, server defaults, keys and indexes, so the two
backends' schemas are the same whenever each equals the models.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from schema_head import HEAD
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from typer.testing import CliRunner

from fullon_account_service.cli.app import app
from fullon_account_service.storage.db.engine import make_engine
from fullon_account_service.storage.db.migrate import downgrade, upgrade
from fullon_account_service.storage.db.models import Base
from fullon_account_service.storage.db.revision import current
from fullon_account_service.storage.db.schema_names import VERSION_TABLE


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "compare_server_default": True, "version_table": VERSION_TABLE},
    )
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def _check_matches_models(url: str) -> None:
    assert await current(url) is None
    await upgrade(url)
    assert await current(url) == HEAD
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_differences) == []
            ours = {"users", "cat_exchanges", "exchanges", "orders", "trades", "trade_books", "ledger"}
            assert ours <= await conn.run_sync(_tables)
    finally:
        await engine.dispose()


async def test_upgrade_on_a_clean_database_matches_the_models(database_url: str) -> None:
    await _check_matches_models(database_url)


async def test_upgrade_on_sqlite_matches_the_models(tmp_path: Path) -> None:
    await _check_matches_models(f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'schema.db'}")


async def test_an_install_at_0002_upgraded_matches_the_models(database_url: str) -> None:
    """0003 changes defaults and nullability on one backend only where the other has them from
    0001; a database that stopped at 0002 ends with the same schema as a fresh one."""
    await upgrade(database_url)
    await downgrade(database_url, "0002")
    await upgrade(database_url)
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_differences) == []
    finally:
        await engine.dispose()


async def test_downgrade_then_upgrade_round_trips(database_url: str) -> None:
    await upgrade(database_url)
    await upgrade(database_url)  # already at head: nothing to do
    await downgrade(database_url)
    assert await current(database_url) is None
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            assert not {"orders", "trades", "users", "trade_books", "ledger"} & await conn.run_sync(_tables)
    finally:
        await engine.dispose()
    await upgrade(database_url)
    assert await current(database_url) == HEAD


async def test_db_upgrade_recreates_a_dropped_table_alembic_thinks_is_there(database_url: str) -> None:
    assert await upgrade(database_url) == []
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE trades"))
        assert await current(database_url) == HEAD  # Alembic does not notice

        env = {"DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
        result = await asyncio.to_thread(CliRunner().invoke, app, ["db", "upgrade"], env=env)
        assert result.exit_code == 0, result.output
        assert "re-created missing tables: trades" in result.output

        async with engine.connect() as conn:
            assert "trades" in await conn.run_sync(_tables)
            assert await conn.run_sync(_differences) == []
        # The re-created table fills time_ms for a row written the fullon way, as 0003 made it do.
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO trades (ex_trade_id, ex_order_id, uid, ex_id, symbol, side, volume, "
                    "price, cost, time) VALUES ('T1', 'O1', 1, 1, 'BTC/USD', 'buy', 1.0, 100.0, 100.0, "
                    "'2024-01-02 03:04:05.678')"
                )
            )
            stored = (await conn.execute(text("SELECT time_ms FROM trades"))).scalar_one()
        assert stored == 1_704_164_645_678
    finally:
        await engine.dispose()


async def test_ledger_revision_goes_down_and_up_alone(database_url: str) -> None:
    """0005 only adds the ledger: down to 0004 drops it and keeps the rest, up adds it back."""
    await upgrade(database_url)
    await downgrade(database_url, "0004")
    assert await current(database_url) == "0004"
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(_tables)
        assert "ledger" not in tables and {"orders", "trades", "trade_books"} <= tables
        await upgrade(database_url)
        async with engine.connect() as conn:
            assert "ledger" in await conn.run_sync(_tables)
            assert await conn.run_sync(_differences) == []
    finally:
        await engine.dispose()
