"""Every connection of the engine carries its backend's settings.

PostgreSQL plans each execution with its parameters: a generic plan made while ``trades`` was
empty kept the ORM sink's checkpoint read scanning the whole table per checkpoint as it grew (see
``storage/db/engine.py``). SQLite runs in WAL mode with foreign keys on.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from fullon_account_service.storage.db.engine import make_engine


async def test_connections_carry_their_backends_settings(database_url: str, tmp_path: Path) -> None:
    postgresql = database_url.startswith("postgresql")
    engine = make_engine(database_url if postgresql else f"sqlite+aiosqlite:///{tmp_path / 'settings.db'}")
    try:
        async with engine.connect() as conn:
            if postgresql:
                assert await conn.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
            else:
                assert await conn.scalar(text("PRAGMA journal_mode")) == "wal"
                assert await conn.scalar(text("PRAGMA foreign_keys")) == 1
    finally:
        await engine.dispose()
