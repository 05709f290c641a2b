"""Models and repositories round-trip on the migrated schema (SQLite file or DATABASE_URL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fullon_account_service.errors import FatalError
from fullon_account_service.ledger.orders import OrderRecord
from fullon_account_service.storage import DatabaseContext
from fullon_account_service.storage.db.models import Trade

Factory = async_sessionmaker[AsyncSession]


async def seed(factory: Factory) -> dict[str, int]:
    async with DatabaseContext(factory) as db:
        alice = await db.users.add("alice@example.com", name="Alice")
        bob = await db.users.add("bob@example.com", name="Bob", active=False)
        kraken = await db.exchanges.add(alice.uid, "kraken", "main")
        bybit = await db.exchanges.add(alice.uid, "bybit", "perps", force_rest=True)
        idle = await db.exchanges.add(alice.uid, "kraken", "idle", active=False)
        bobs = await db.exchanges.add(bob.uid, "hyperliquid", "hl")
    return {
        "alice": alice.uid,
        "bob": bob.uid,
        "kraken": kraken.ex_id,
        "bybit": bybit.ex_id,
        "idle": idle.ex_id,
        "bobs": bobs.ex_id,
    }


async def test_users_and_exchanges_round_trip(session_factory: Factory) -> None:
    ids = await seed(session_factory)
    async with DatabaseContext(session_factory) as db:
        users = await db.users.get_all()
        assert [(u.mail, u.active, u.role) for u in users] == [
            ("alice@example.com", True, "user"),
            ("bob@example.com", False, "user"),
        ]
        assert users[0].timestamp.tzinfo is not None
        mine = await db.exchanges.get_user_exchanges(ids["alice"])
        assert [(e.name, e.cat_exchange.name, e.force_rest, e.active) for e in mine] == [
            ("main", "kraken", False, True),
            ("perps", "bybit", True, True),
            ("idle", "kraken", False, False),
        ]
        assert mine[0].cat_ex_id == mine[2].cat_ex_id
        assert (await db.users.get_by_mail("bob@example.com")) is not None


async def test_get_active_is_active_exchanges_of_active_users(session_factory: Factory) -> None:
    ids = await seed(session_factory)
    async with DatabaseContext(session_factory) as db:
        active = await db.exchanges.get_active()
        assert [(e.ex_id, e.cat_exchange.name) for e in active] == [
            (ids["kraken"], "kraken"),
            (ids["bybit"], "bybit"),
        ]
        assert await db.exchanges.set_active(ids["idle"], True)
        assert not await db.exchanges.set_active(999_999, True)
    async with DatabaseContext(session_factory) as db:
        assert {e.ex_id for e in await db.exchanges.get_active()} == {
            ids["kraken"],
            ids["bybit"],
            ids["idle"],
        }
        assert await db.exchanges.remove(ids["kraken"])
        assert not await db.exchanges.remove(ids["kraken"])
    async with DatabaseContext(session_factory) as db:
        assert await db.exchanges.get(ids["kraken"]) is None
        assert {e.ex_id for e in await db.exchanges.get_active()} == {ids["bybit"], ids["idle"]}


async def test_context_rolls_back_on_error_and_commits_on_exit(session_factory: Factory) -> None:
    with pytest.raises(RuntimeError):
        async with DatabaseContext(session_factory) as db:
            await db.users.add("gone@example.com")
            raise RuntimeError("boom")
    async with DatabaseContext(session_factory) as db:
        assert await db.users.get_all() == []
        await db.users.add("kept@example.com")
        await db.rollback()
        await db.users.add("kept2@example.com")
        await db.commit()
    async with DatabaseContext(session_factory) as db:
        assert [u.mail for u in await db.users.get_all()] == ["kept2@example.com"]


async def test_duplicate_mail_is_a_fatal_error(session_factory: Factory) -> None:
    async with DatabaseContext(session_factory) as db:
        await db.users.add("dup@example.com")
    with pytest.raises(FatalError):
        async with DatabaseContext(session_factory) as db:
            await db.users.add("dup@example.com")


async def test_orders_and_trades_round_trip(session_factory: Factory) -> None:
    record = OrderRecord(
        ex_id=3,
        uid=1,
        exchange="bybit",
        ex_order_id="o-1",
        symbol="BTC/USDT:USDT",
        side="buy",
        order_type="limit",
        status="open",
        volume=2.0,
        price=30_000.5,
        filled=0.5,
        fee=None,
        leverage=5.0,
        client_order_id="c-1",
        created_ms=1_700_000_000_000,
        updated_ms=1_700_000_000_123,
        event_id="e" * 32,
    )
    time = datetime(2024, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
    async with DatabaseContext(session_factory) as db:
        await db.orders.save_order(record)
        db.session.add(
            Trade(
                ex_trade_id="t-1",
                ex_order_id="o-1",
                uid=1,
                ex_id=3,
                symbol="BTC/USDT:USDT",
                side="buy",
                volume=0.5,
                price=30_000.5,
                cost=15_000.25,
                fee=0.1,
                fee_currency="USDT",
                time=time,
                time_ms=1_704_164_645_678,
            )
        )
    async with DatabaseContext(session_factory) as db:
        (order,) = await db.orders.get_exchange_orders(3, limit=10)
        assert (order.ex_order_id, order.status, order.volume, order.filled, order.fee) == (
            "o-1",
            "open",
            2.0,
            0.5,
            None,
        )
        assert order.futures and order.leverage == 5.0 and order.final_volume is None
        assert order.timestamp == datetime(2023, 11, 14, 22, 13, 20, 123_000, tzinfo=UTC)
        assert order.order_id > 0 and not order.is_terminal
        trade = (await db.session.execute(select(Trade))).scalar_one()
        assert trade.time == time and trade.time_ms == 1_704_164_645_678 and trade.cur_volume is None


async def test_exchange_orders_are_newest_first_and_limited(session_factory: Factory) -> None:
    base = OrderRecord(
        ex_id=1,
        uid=1,
        exchange="kraken",
        ex_order_id="",
        symbol="BTC/USD",
        side="sell",
        order_type="market",
        status="closed",
    )
    async with DatabaseContext(session_factory) as db:
        await db.orders.save_orders(
            [
                OrderRecord(**{**_fields(base), "ex_order_id": f"o{i}", "updated_ms": 1_000 * i})
                for i in range(1, 6)
            ]
            + [OrderRecord(**{**_fields(base), "ex_id": 2, "ex_order_id": "other", "updated_ms": 99_000})]
        )
    async with DatabaseContext(session_factory) as db:
        assert [o.ex_order_id for o in await db.orders.get_exchange_orders(1, limit=3)] == ["o5", "o4", "o3"]
        assert await db.orders.get_order(2, "other") is not None
        assert await db.orders.get_order(1, "other") is None


def _fields(record: OrderRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in record.__dataclass_fields__}


async def test_zero_argument_context_uses_the_environment(
    session_factory: Factory, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    async with DatabaseContext() as db:
        await db.users.add("env@example.com")
    async with DatabaseContext(session_factory) as db:
        assert [u.mail for u in await db.users.get_all()] == ["env@example.com"]
