"""The command line's reads without SQLAlchemy give what the ORM reads of the same rows give.

On both backends: the same accounts, trades (times as aware UTC datetimes) and revision; a missing
table is ``StorageUnavailable`` (the CLI migrates an embedded database on it), a refused connection
is ``TransientError``, and a password never appears in the URL the CLI prints.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from factories import NOW_MS, fill
from fullon_account_service.contract import Side
from fullon_account_service.errors import StorageUnavailable, TransientError
from fullon_account_service.ledger.fills import Fill
from fullon_account_service.storage.db import plain_reads
from fullon_account_service.storage.db.context import DatabaseContext
from fullon_account_service.storage.db.models import Exchange, Trade, User
from fullon_account_service.storage.db.repositories.trades import TradeRepository
from fullon_account_service.storage.db.revision import current


def booked_fill(n: int, ex_id: int, side: Side, volume: float) -> Fill:
    contract = fill(f"T{n}", ex_order_id=f"O{n}", side=side, volume=volume, fee=0.25, time_ms=NOW_MS + n)
    return Fill.from_contract(contract, ex_id=ex_id, uid=1, exchange="kraken")


async def test_plain_reads_agree_with_the_orm(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    async with DatabaseContext(session_factory) as db:
        owner = await db.users.add("plain@example.com")
        first = await db.exchanges.add(owner.uid, "kraken", "main", force_rest=True)
        await db.exchanges.add(owner.uid, "bybit", "alt", test=True, active=False)
    fills = [booked_fill(1, first.ex_id, Side.BUY, 1.0), booked_fill(2, first.ex_id, Side.SELL, 0.4)]
    async with session_factory() as session:
        await TradeRepository(session).save_trades(fills)
        await session.commit()

    async with session_factory() as session:
        orm_accounts = [
            plain_reads.StoredAccount(
                ex.ex_id, mail, ex.cat_exchange.name, ex.name, ex.active, ex.test, ex.force_rest
            )
            for ex, mail in (
                await session.execute(select(Exchange, User.mail).join(User).order_by(Exchange.ex_id))
            ).all()
        ]
        orm_trades = [
            plain_reads.StoredTrade(t.symbol, t.time, t.roi, t.total_fee, t.volume)
            for t in await session.scalars(select(Trade).where(Trade.ex_id == first.ex_id))
        ]
    assert await plain_reads.accounts(database_url) == orm_accounts
    assert [(a.exchange, a.active, a.test, a.force_rest) for a in orm_accounts] == [
        ("kraken", True, False, True),
        ("bybit", False, True, False),
    ]
    known, trades, charges = await plain_reads.pnl_inputs(database_url, first.ex_id)
    assert known and sorted(trades, key=lambda t: t.time) == sorted(orm_trades, key=lambda t: t.time)
    assert len(trades) == 2 and all(t.time.utcoffset() is not None for t in trades)
    assert {t.roi for t in trades} != {None}, "the sink's PnL is read, not recomputed"
    assert charges == []
    assert await plain_reads.pnl_inputs(database_url, 999) == (False, [], [])
    assert await plain_reads.recorded_revision(database_url) == await current(database_url)


async def test_a_missing_table_is_storage_unavailable(database_url: str) -> None:
    """The database of this test was never migrated (PostgreSQL: our tables dropped)."""
    with pytest.raises(StorageUnavailable, match="list accounts"):
        await plain_reads.accounts(database_url)
    with pytest.raises(StorageUnavailable, match="read schema revision"):
        await plain_reads.recorded_revision(database_url)


async def test_a_refused_connection_is_transient() -> None:
    with pytest.raises(TransientError, match="read trades"):
        await plain_reads.pnl_inputs("postgresql+asyncpg://postgres:pw-never-shown@127.0.0.1:1/none", 1)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql+asyncpg://bob:s3cret@db.local:5432/fullon",
            "postgresql+asyncpg://bob:***@db.local:5432/fullon",
        ),
        ("postgresql+asyncpg://bob@db.local/fullon", "postgresql+asyncpg://bob@db.local/fullon"),
        ("sqlite+aiosqlite:////var/lib/f.db", "sqlite+aiosqlite:////var/lib/f.db"),
    ],
)
def test_a_printed_url_hides_its_password(url: str, shown: str) -> None:
    assert plain_reads.without_password(url) == shown
