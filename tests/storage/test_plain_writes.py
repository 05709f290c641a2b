"""The command line's account writes without SQLAlchemy store the rows the ORM's repositories store.

On both backends, read back through the ORM: a user with fullon's defaults, an exchange kind made
on first use, the account's flags, and timestamps stored the way ``UtcDateTime`` stores them (on
SQLite the same text shape). A second add of one (user, exchange, name) writes nothing; removing
or deactivating leaves the user and the kind; a database never migrated is ``StorageUnavailable``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fullon_account_service.errors import StorageUnavailable
from fullon_account_service.storage.db import plain_writes
from fullon_account_service.storage.db.context import DatabaseContext
from fullon_account_service.storage.db.models import CatExchange, Exchange, User

Factory = async_sessionmaker[AsyncSession]


def columns(row: object, *skip: str) -> dict[str, Any]:
    """Every mapped column of ``row`` but ``skip`` (keys and the values the test chose to differ)."""
    return {c.key: getattr(row, c.key) for c in inspect(type(row)).columns if c.key not in skip}


async def stored(factory: Factory) -> tuple[dict[str, User], dict[str, CatExchange], dict[int, Exchange]]:
    async with factory() as session:
        users = {u.mail: u for u in await session.scalars(select(User))}
        kinds = {k.name: k for k in await session.scalars(select(CatExchange))}
        accounts = {e.ex_id: e for e in await session.scalars(select(Exchange))}
    return users, kinds, accounts


async def stamp_shapes(factory: Factory, table: str) -> set[str]:
    """The stored timestamps with every digit made 9: the format the driver was given."""
    async with factory() as session:
        raw = (await session.execute(text(f"SELECT timestamp FROM {table}"))).scalars()
        return {f"{type(value).__name__}:{re.sub(r'[0-9]', '9', str(value))}" for value in raw}


async def test_plain_writes_store_what_the_orm_stores(session_factory: Factory, database_url: str) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    async with DatabaseContext(session_factory) as db:
        owner = await db.users.add("orm@example.com")
        orm = await db.exchanges.add(owner.uid, "kraken", "main", test=True, force_rest=True)
    new_kind = await plain_writes.add_account(
        database_url, exchange="bybit", name="main", user="plain@example.com", test=True, force_rest=True
    )
    known_kind = await plain_writes.add_account(
        database_url, exchange="kraken", name="main", user="plain@example.com", test=False, force_rest=False
    )
    assert new_kind.created and known_kind.created
    assert len({orm.ex_id, new_kind.ex_id, known_kind.ex_id}) == 3

    users, kinds, accounts = await stored(session_factory)
    assert columns(users["plain@example.com"], "uid", "mail", "timestamp") == columns(
        users["orm@example.com"], "uid", "mail", "timestamp"
    )
    assert columns(kinds["bybit"], "cat_ex_id", "name") == columns(kinds["kraken"], "cat_ex_id", "name")
    plain = accounts[new_kind.ex_id]
    assert columns(plain, "ex_id", "uid", "cat_ex_id", "timestamp") == columns(
        accounts[orm.ex_id], "ex_id", "uid", "cat_ex_id", "timestamp"
    )
    assert plain.uid == users["plain@example.com"].uid and plain.cat_ex_id == kinds["bybit"].cat_ex_id
    assert accounts[known_kind.ex_id].cat_ex_id == kinds["kraken"].cat_ex_id
    assert (accounts[known_kind.ex_id].test, accounts[known_kind.ex_id].force_rest) == (False, False)
    stamps = [users["plain@example.com"].timestamp, plain.timestamp]
    assert all(s.tzinfo is not None and before <= s <= datetime.now(UTC) for s in stamps)
    for table in ("users", "exchanges"):
        assert len(await stamp_shapes(session_factory, table)) == 1, table


async def test_a_second_add_writes_nothing_and_removal_keeps_owner_and_kind(
    session_factory: Factory, database_url: str
) -> None:
    first = await plain_writes.add_account(
        database_url, exchange="kraken", name="a", user="u@example.com", test=False, force_rest=False
    )
    again = await plain_writes.add_account(
        database_url, exchange="kraken", name="a", user="u@example.com", test=True, force_rest=True
    )
    assert again == plain_writes.AddedAccount(first.ex_id, created=False)
    users, kinds, accounts = await stored(session_factory)
    assert (len(users), len(kinds), list(accounts)) == (1, 1, [first.ex_id])
    assert not accounts[first.ex_id].test

    assert await plain_writes.remove_account(database_url, first.ex_id, deactivate=True)
    assert (await stored(session_factory))[2][first.ex_id].active is False
    assert await plain_writes.remove_account(database_url, first.ex_id, deactivate=False)
    assert not await plain_writes.remove_account(database_url, first.ex_id, deactivate=False)
    assert not await plain_writes.remove_account(database_url, first.ex_id, deactivate=True)
    users, kinds, accounts = await stored(session_factory)
    assert (len(users), len(kinds), accounts) == (1, 1, {})


async def test_a_write_to_a_database_never_migrated_is_storage_unavailable(database_url: str) -> None:
    with pytest.raises(StorageUnavailable, match="add account"):
        await plain_writes.add_account(
            database_url, exchange="kraken", name="a", user="u@example.com", test=False, force_rest=False
        )
    with pytest.raises(StorageUnavailable, match="remove account"):
        await plain_writes.remove_account(database_url, 1, deactivate=False)
