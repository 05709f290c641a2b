"""Sink fixtures: a migrated database with two known accounts (ex_id 1 and 2).

On PostgreSQL (``DATABASE_URL`` set) the schema is dropped and migrated afresh for each test;
on SQLite each test gets its own file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sink_samples import Db, reset_database

from fullon_account_service.settings import Settings
from fullon_account_service.storage.db import make_engine, make_session_factory


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Db]:
    await reset_database(settings.database_url)
    engine = make_engine(settings.database_url)
    yield Db(settings.database_url, make_session_factory(engine))
    await engine.dispose()
