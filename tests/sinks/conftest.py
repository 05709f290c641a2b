"""Sink fixtures: a migrated database with two known accounts, and event builders.

On PostgreSQL (``DATABASE_URL`` set) the schema is dropped and migrated afresh for each test;
on SQLite each test gets its own file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fullon_account_service.settings import Settings
from fullon_account_service.storage.db import DatabaseContext, make_engine, make_session_factory
from fullon_account_service.storage.db.migrate import upgrade

EX_IDS = (1, 2)


@dataclass(frozen=True)
class Db:
    url: str
    factory: async_sessionmaker[AsyncSession]


async def reset_database(url: str) -> None:
    if url.startswith("postgresql"):
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    await upgrade(url)
    engine = make_engine(url)
    async with DatabaseContext(make_session_factory(engine)) as db:
        user = await db.users.add("sinks@example.com")
        for ex_id in EX_IDS:
            exchange = await db.exchanges.add(user.uid, "kraken", f"account {ex_id}")
            assert exchange.ex_id == ex_id
    await engine.dispose()


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Db]:
    await reset_database(settings.database_url)
    engine = make_engine(settings.database_url)
    yield Db(settings.database_url, make_session_factory(engine))
    await engine.dispose()
