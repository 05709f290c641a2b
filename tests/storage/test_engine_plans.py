"""Every PostgreSQL connection of the engine plans each execution with its parameters.

A generic plan made while ``trades`` was empty kept the ORM sink's checkpoint read scanning the
whole table per checkpoint as it grew (see ``storage/db/engine.py``).
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from fullon_account_service.storage.db.engine import make_engine


async def test_postgresql_connections_never_keep_a_generic_plan(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL setting")
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
    finally:
        await engine.dispose()
