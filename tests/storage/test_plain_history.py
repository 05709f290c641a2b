"""What balance explained reads without SQLAlchemy (``plain_history``) is what the ORM reads.

On both backends, with every column of a fill and of a ledger entry filled in: the same fills (a
side written in capitals by another tool read as lower case), the same orders' fee currencies, the
same ledger entries, none of another account's. A column renamed in the model but not in ``Fill``
or ``LedgerRecord`` breaks the plain SQL and the ORM reads alike, and this test with them.
"""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from factories import NOW_MS, fill, ledger_entry
from fullon_account_service.contract import ExecKind, LedgerReason, Liquidity, Side
from fullon_account_service.errors import StorageUnavailable
from fullon_account_service.ledger.entries import LedgerRecord
from fullon_account_service.ledger.fills import Fill
from fullon_account_service.storage.balance_anchors import BalanceAnchors
from fullon_account_service.storage.db.context import DatabaseContext
from fullon_account_service.storage.db.models import Order, Trade
from fullon_account_service.storage.db.plain_history import StoredHistory, stored_history
from fullon_account_service.storage.db.plain_sql import connected
from fullon_account_service.storage.db.repositories.ledger import LedgerRepository
from fullon_account_service.storage.db.repositories.trade_history import READ_COLUMNS, stored_fill
from fullon_account_service.storage.db.repositories.trades import TradeRepository
from fullon_account_service.verify.explained import explain_accounts


def full_fill(n: int, ex_id: int, uid: int) -> Fill:
    """Every optional column set, so that a column read into the wrong field shows."""
    contract = fill(
        f"T{n}",
        ex_order_id=f"O{n}",
        symbol="ETH/USDT:USDT",
        side=Side.BUY if n % 2 else Side.SELL,
        volume=0.5 * n,
        price=3_000.0 + n,
        fee=0.25 * n,
        fee_currency="USDT",
        leverage=5.0,
        order_type="limit",
        liquidity=Liquidity.MAKER,
        exec_kind=ExecKind.LIQUIDATION,
        time_ms=NOW_MS + n,
    )
    return Fill.from_contract(contract, ex_id=ex_id, uid=uid, exchange="bybit", event_id=f"e{n}", cat_ex_id=3)


def full_entry(n: int, ex_id: int, uid: int) -> LedgerRecord:
    contract = ledger_entry(
        f"L{n}",
        amount=-0.5 * n,
        reason=LedgerReason.FUNDING,
        raw_type="SETTLEMENT",
        balance_after=100.0 - n,
        fee=0.01,
        fee_currency="BNB",
        time_ms=NOW_MS + 10 * n,
    )
    return LedgerRecord.from_contract(contract, ex_id=ex_id, uid=uid, exchange="bybit", event_id=f"l{n}")


def fee_order(ex_id: int, uid: int, ex_order_id: str, fee_currency: str | None) -> Order:
    return Order(
        uid=uid,
        ex_id=ex_id,
        ex_order_id=ex_order_id,
        exchange="kraken",
        symbol="BTC/USD",
        order_type="limit",
        side="buy",
        status="closed",
        fee_currency=fee_currency,
    )


async def orm_history(session_factory: async_sessionmaker[AsyncSession], ex_id: int) -> StoredHistory:
    """The ORM's reads of the same rows (the repositories' columns and row shapes)."""
    async with session_factory() as session:
        rows = await session.execute(select(*READ_COLUMNS).where(Trade.ex_id == ex_id))
        fills = [stored_fill(row) for row in rows]
        orders = await session.execute(
            select(Order.ex_order_id, Order.symbol, Order.fee_currency)
            .where(Order.ex_id == ex_id, Order.fee_currency.is_not(None))
            .order_by(Order.order_id)
        )
        fee_orders = [(row[0], row[1], row[2]) for row in orders]
        entries = await LedgerRepository(session).entries_of([ex_id])
    return StoredHistory(sorted(fills, key=lambda f: (f.time_ms, f.ex_trade_id)), fee_orders, entries)


async def test_plain_history_reads_what_the_orm_reads(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    async with DatabaseContext(session_factory) as db:
        owner = await db.users.add("history@example.com")
        ex_id = (await db.exchanges.add(owner.uid, "bybit", "main")).ex_id
        other = (await db.exchanges.add(owner.uid, "kraken", "other")).ex_id
    uid = owner.uid
    async with session_factory() as session:
        await TradeRepository(session).save_trades(
            [full_fill(n, ex_id, uid) for n in (3, 1, 2)] + [full_fill(4, other, uid)]
        )
        await LedgerRepository(session).save_entries(
            [full_entry(n, ex_id, uid) for n in (2, 1)] + [full_entry(3, other, uid)]
        )
        session.add_all(
            [
                fee_order(ex_id, uid, "K1", "BTC"),
                fee_order(ex_id, uid, "K2", None),
                fee_order(ex_id, uid, "K3", "USD"),
                fee_order(other, uid, "K4", "BTC"),
            ]
        )
        await session.execute(update(Trade).where(Trade.ex_trade_id == "T2").values(side="SELL"))
        await session.commit()

    async with connected(database_url, "read history") as rows:
        plain = await stored_history(rows, ex_id)
        assert await stored_history(rows, 999) == StoredHistory([], [], [])
    assert plain == await orm_history(session_factory, ex_id)
    assert [f.ex_trade_id for f in plain.fills] == ["T1", "T2", "T3"]
    assert plain.fills[1].side == "sell", "a side in capitals reads as the sink writes it"
    assert all(getattr(f, name) is not None for f in plain.fills for name in Fill.__struct_fields__)
    assert plain.fee_orders == [("K1", "BTC/USD", "BTC"), ("K3", "BTC/USD", "USD")]
    assert [e.ex_ledger_id for e in plain.entries] == ["L1", "L2"]
    assert all(getattr(e, name) is not None for e in plain.entries for name in LedgerRecord.__struct_fields__)


async def test_explaining_without_tables_is_storage_unavailable(
    database_url: str, redis_client: aioredis.Redis
) -> None:
    """The database of this test was never migrated: what ``health`` reports as a warning."""
    await BalanceAnchors(redis_client, prefix="plain:").record([(1, NOW_MS, {"USD": 1.0})])
    with pytest.raises(StorageUnavailable, match="balance explained"):
        await explain_accounts(database_url, redis_client, prefix="plain:", band_ms=0, partitions=1)
