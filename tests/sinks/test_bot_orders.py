"""An order a fullon bot wrote itself (no ``ex_order_id`` yet) is completed by the venue's events
when they name it by client order id, and is never a reason to fail or to lose an event."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

import factories
from fullon_account_service.contract import OrderStatus, Side
from fullon_account_service.sinks.accounts import KnownAccounts
from fullon_account_service.sinks.orm_sink import OrmSink
from fullon_account_service.storage.db.models import Order
from sink_samples import Db, deliveries, envelope

BOT_ROW = {
    "bot_id": 7,
    "uid": 1,
    "ex_id": 1,
    "ex_order_id": None,
    "exchange": "kraken",
    "symbol": "BTC/USDT",
    "order_type": "limit",
    "side": "buy",
    "volume": 2.0,
    "price": 100.0,
    "futures": False,
    "status": "New",
    "reason": "signal",
}
"""A row as fullon's tools write it before placing the order: fullon's columns only."""


async def write_bot_row(db: Db, **changes: Any) -> int:
    async with db.factory() as session, session.begin():
        result = await session.execute(
            sa.insert(Order).values(**{**BOT_ROW, **changes}).returning(Order.order_id)
        )
        return int(result.scalar_one())


async def rows(db: Db) -> list[Order]:
    async with db.factory() as session:
        return list((await session.scalars(sa.select(Order).order_by(Order.order_id))).all())


async def store(db: Db, *updates: Any) -> None:
    await OrmSink(db.factory, KnownAccounts(db.factory)).handle(deliveries([envelope(u) for u in updates]))


async def test_the_venue_order_naming_the_bot_row_id_updates_that_row(db: Db) -> None:
    bot_row = await write_bot_row(db)
    opened = factories.order("V-1", client_order_id=str(bot_row), updated_ms=1_000)
    filled = factories.order(
        "V-1", client_order_id=str(bot_row), status=OrderStatus.CLOSED, filled=2.0, updated_ms=2_000
    )
    await store(db, opened)
    await store(db, filled, opened)  # a replay and a later version: still the one row
    [row] = await rows(db)
    assert (row.order_id, row.ex_order_id, row.status, row.filled) == (bot_row, "V-1", "closed", 2.0)
    assert (row.bot_id, row.reason, row.client_order_id) == (7, "signal", str(bot_row))


async def test_the_venue_order_naming_the_bot_row_client_id_updates_that_row(db: Db) -> None:
    await write_bot_row(db, client_order_id="other-bot")
    bot_row = await write_bot_row(db, client_order_id="grid-42")
    await store(db, factories.order("V-2", client_order_id="grid-42"))
    by_id = {row.order_id: row for row in await rows(db)}
    assert len(by_id) == 2
    assert (by_id[bot_row].ex_order_id, by_id[bot_row].status, by_id[bot_row].bot_id) == ("V-2", "open", 7)


async def test_an_order_matching_no_bot_row_is_stored_beside_it(db: Db) -> None:
    bot_row = await write_bot_row(db)
    await store(
        db,
        factories.order("V-3"),  # no client order id
        factories.order("V-4", client_order_id="unrelated"),
        factories.order("V-5", client_order_id=str(bot_row), side=Side.SELL),  # not the bot's side
    )
    stored = {row.ex_order_id: row for row in await rows(db)}
    assert set(stored) == {None, "V-3", "V-4", "V-5"}
    assert (stored[None].order_id, stored[None].status, stored[None].bot_id) == (bot_row, "New", 7)


async def test_a_venue_id_already_stored_is_not_given_to_a_bot_row(db: Db) -> None:
    await store(db, factories.order("V-6"))
    bot_row = await write_bot_row(db)
    await store(db, factories.order("V-6", client_order_id=str(bot_row), status=OrderStatus.CANCELED))
    stored = {row.ex_order_id: row for row in await rows(db)}
    assert set(stored) == {None, "V-6"}
    assert (stored["V-6"].status, stored["V-6"].client_order_id) == ("canceled", str(bot_row))
    assert stored[None].status == "New"


async def test_in_a_batch_of_many_orders_only_the_one_naming_the_bot_row_adopts_it(db: Db) -> None:
    by_client_id = await write_bot_row(db, client_order_id="grid-7")
    by_row_id = await write_bot_row(db, side="sell")
    others = [factories.order(f"W-{i}", client_order_id=f"c-{i}") for i in range(40)]
    await store(
        db,
        *others[:20],
        factories.order("W-bot", client_order_id="grid-7"),
        factories.order("W-sell", client_order_id=str(by_row_id), side=Side.SELL),
        *others[20:],
    )
    stored = {row.order_id: row.ex_order_id for row in await rows(db)}
    assert (stored[by_client_id], stored[by_row_id]) == ("W-bot", "W-sell")
    assert sorted(v for k, v in stored.items() if k not in (by_client_id, by_row_id)) == sorted(
        f"W-{i}" for i in range(40)
    )
