"""``db upgrade`` adopts a database fullon_orm created, and both sides then read and write it.

The schema below is shaped like fullon_orm's (its table and column names, ``timestamp without
time zone`` holding UTC, its NOT NULL columns and defaults, its revision in ``alembic_version``);
rows are written the way fullon writes them (no ``time_ms``, no ``ex_order_id`` for a bot's new
order, defaults left to the database), then the service's ORM sink runs from the bus and
everything is read back with fullon-style queries and naive UTC datetimes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
import sqlalchemy as sa
from schema_head import HEAD
from sqlalchemy.ext.asyncio import AsyncEngine

from factories import envelope
from fullon_account_service.bus import Publisher
from fullon_account_service.contract import (
    Envelope,
    OrderStatus,
    OrderUpdate,
    Side,
    TradeFill,
)
from fullon_account_service.errors import FatalError
from fullon_account_service.settings import Settings
from fullon_account_service.sinks.runner import run_sink
from fullon_account_service.storage.db import make_session_factory
from fullon_account_service.storage.db.migrate import downgrade, upgrade
from fullon_account_service.storage.db.revision import current
from fullon_account_service.storage.db.schema_names import VERSION_TABLE

FULLON_REVISION = "9f1c2b3a4d5e"
fullon = sa.MetaData()
users = sa.Table(
    "users",
    fullon,
    sa.Column("uid", sa.Integer, primary_key=True),
    sa.Column("mail", sa.String(100), unique=True, nullable=False),
    sa.Column("password", sa.String(256)),
    sa.Column("f2a", sa.String(100)),
    sa.Column("role", sa.String(50)),
    sa.Column("name", sa.String(100)),
    sa.Column("lastname", sa.String(100)),
    sa.Column("phone", sa.String(20)),
    sa.Column("id_num", sa.String(50)),
    sa.Column("note", sa.Text),
    sa.Column("manager", sa.Integer, sa.ForeignKey("users.uid")),
    sa.Column("timestamp", sa.DateTime, server_default=sa.func.now()),
    sa.Column("active", sa.Boolean, server_default=sa.true(), nullable=False),
)
cat_exchanges = sa.Table(
    "cat_exchanges",
    fullon,
    sa.Column("cat_ex_id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), unique=True, nullable=False),
    sa.Column("ohlcv_view", sa.Text),
)
exchanges = sa.Table(
    "exchanges",
    fullon,
    sa.Column("ex_id", sa.Integer, primary_key=True),
    sa.Column("uid", sa.Integer, sa.ForeignKey("users.uid"), nullable=False),
    sa.Column("cat_ex_id", sa.Integer, sa.ForeignKey("cat_exchanges.cat_ex_id"), nullable=False),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("test", sa.Boolean, server_default=sa.false(), nullable=False),
    sa.Column("active", sa.Boolean, server_default=sa.true(), nullable=False),
    sa.Column("timestamp", sa.DateTime, server_default=sa.func.now()),
    sa.UniqueConstraint("uid", "cat_ex_id", "name"),
)
orders = sa.Table(
    "orders",
    fullon,
    sa.Column("order_id", sa.Integer, primary_key=True),
    sa.Column("bot_id", sa.Integer, nullable=False),
    sa.Column("uid", sa.Integer),
    sa.Column("ex_id", sa.Integer),
    sa.Column("ex_order_id", sa.String(100)),
    sa.Column("cat_ex_id", sa.Integer),
    sa.Column("exchange", sa.String(50)),
    sa.Column("symbol", sa.String(50)),
    sa.Column("order_type", sa.String(20)),
    sa.Column("side", sa.String(10)),
    sa.Column("volume", sa.Float),
    sa.Column("final_volume", sa.Float),
    sa.Column("price", sa.Float),
    sa.Column("plimit", sa.Float),
    sa.Column("tick", sa.Float),
    sa.Column("futures", sa.Boolean, server_default=sa.false()),
    sa.Column("leverage", sa.Float),
    sa.Column("status", sa.String(20)),
    sa.Column("command", sa.String(50)),
    sa.Column("reason", sa.String(50), nullable=False),
    sa.Column("timestamp", sa.DateTime, server_default=sa.func.now()),
)
trades = sa.Table(
    "trades",
    fullon,
    sa.Column("trade_id", sa.Integer, primary_key=True),
    sa.Column("ex_trade_id", sa.String(100)),
    sa.Column("ex_order_id", sa.String(100)),
    sa.Column("uid", sa.Integer),
    sa.Column("ex_id", sa.Integer),
    sa.Column("symbol", sa.String(50)),
    sa.Column("order_type", sa.String(20), nullable=False),
    sa.Column("side", sa.String(10)),
    sa.Column("volume", sa.Float),
    sa.Column("price", sa.Float),
    sa.Column("cost", sa.Float),
    sa.Column("fee", sa.Float),
    sa.Column("cur_volume", sa.Float),
    sa.Column("cur_avg_price", sa.Float),
    sa.Column("cur_avg_cost", sa.Float),
    sa.Column("cur_fee", sa.Float),
    sa.Column("roi", sa.Float),
    sa.Column("roi_pct", sa.Float),
    sa.Column("total_fee", sa.Float),
    sa.Column("leverage", sa.Float),
    sa.Column("time", sa.DateTime),
    sa.Column("cat_ex_id", sa.Integer),
    sa.UniqueConstraint("ex_trade_id", "ex_order_id"),
)
alembic_version = sa.Table(
    "alembic_version", fullon, sa.Column("version_num", sa.String(32), primary_key=True)
)


def utcnow() -> datetime:
    """What fullon code compares with: ``datetime.utcnow()``, a naive UTC datetime."""
    return datetime.now(UTC).replace(tzinfo=None)


async def _in(engine: AsyncEngine, work: Callable[[sa.Connection], Any]) -> Any:
    async with engine.begin() as conn:
        return await conn.run_sync(work)


def _create_fullon_database(conn: sa.Connection) -> dict[str, int]:
    """fullon_orm's schema and the rows its tools write, defaults left to the database."""
    fullon.create_all(conn)
    conn.execute(sa.insert(alembic_version).values(version_num=FULLON_REVISION))
    uid = conn.execute(
        sa.insert(users).values(mail="bot@fullon", name="Bot", role="admin", password="hash")
    ).inserted_primary_key[0]
    cat_ex_id = conn.execute(sa.insert(cat_exchanges).values(name="kraken")).inserted_primary_key[0]
    ex_id = conn.execute(
        sa.insert(exchanges).values(uid=uid, cat_ex_id=cat_ex_id, name="main")
    ).inserted_primary_key[0]
    placed = utcnow() - timedelta(minutes=10)
    common = {"uid": uid, "ex_id": ex_id, "cat_ex_id": cat_ex_id, "exchange": "kraken", "bot_id": 7}
    conn.execute(
        sa.insert(orders),
        [
            {**common, "ex_order_id": None, "symbol": "BTC/USD", "order_type": "limit", "side": "buy",
             "volume": 0.1, "price": 90.0, "status": "New", "reason": "signal", "timestamp": placed},
            {**common, "ex_order_id": "O-BOT", "symbol": "BTC/USD", "order_type": "limit", "side": "buy",
             "volume": 1.0, "price": 100.0, "status": "open", "reason": "signal", "timestamp": placed},
        ],
    )  # fmt: skip
    conn.execute(
        sa.insert(trades).values(
            ex_trade_id="T-OLD", ex_order_id="O-OLD", uid=uid, ex_id=ex_id, symbol="BTC/USD",
            order_type="market", side="buy", volume=1.0, price=100.0, cost=100.0, fee=0.0,
            time=utcnow() - timedelta(minutes=9), cat_ex_id=cat_ex_id,
        )
    )  # fmt: skip
    return {"uid": uid, "ex_id": ex_id, "cat_ex_id": cat_ex_id}


def _envelope(ids: dict[str, int], payload: Any, exchange_ms: int) -> Envelope:
    return envelope(payload, ex_id=ids["ex_id"], uid=ids["uid"], exchange_ms=exchange_ms)


def _events(ids: dict[str, int]) -> list[Envelope]:
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    filled = OrderUpdate(
        ex_order_id="O-BOT", symbol="BTC/USD", side=Side.BUY, order_type="limit",
        status=OrderStatus.CLOSED, price=100.0, volume=1.0, filled=1.0, updated_ms=now_ms - 120_000,
    )  # fmt: skip
    venue_order = OrderUpdate(
        ex_order_id="O-VENUE", symbol="BTC/USD", side=Side.SELL, order_type="market",
        status=OrderStatus.CLOSED, volume=2.0, filled=2.0, updated_ms=now_ms - 60_000,
    )  # fmt: skip
    bot_fill = TradeFill(
        ex_trade_id="T-BOT", ex_order_id="O-BOT", symbol="BTC/USD", side=Side.BUY, price=100.0,
        volume=1.0, cost=100.0, time_ms=now_ms - 120_000, fee=0.0, fee_currency="USD",
    )  # fmt: skip
    venue_fill = TradeFill(
        ex_trade_id="T-VENUE", ex_order_id="O-VENUE", symbol="BTC/USD", side=Side.SELL, price=110.0,
        volume=2.0, cost=220.0, time_ms=now_ms - 60_000, fee=0.0, fee_currency="USD",
    )  # fmt: skip
    return [
        _envelope(ids, filled, now_ms - 120_000),
        _envelope(ids, venue_order, now_ms - 60_000),
        _envelope(ids, bot_fill, now_ms - 120_000),
        _envelope(ids, venue_fill, now_ms - 60_000),
    ]


async def _run_orm_sink(
    settings: Settings, redis: aioredis.Redis, engine: AsyncEngine, done: Callable[[sa.Connection], bool]
) -> None:
    stop = asyncio.Event()
    factory = make_session_factory(engine)
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(run_sink(settings, "orm", "adoption", redis, stop, session_factory=factory))
        try:
            async with asyncio.timeout(60):
                while not await _in(engine, done):
                    await asyncio.sleep(0.1)
        finally:
            stop.set()


def _stored(conn: sa.Connection) -> bool:
    return (
        conn.scalar(sa.select(sa.func.count()).select_from(trades).where(trades.c.ex_trade_id.like("T-V%")))
        == 1
    )


async def test_upgrade_adopts_a_fullon_database_and_both_sides_read_it(
    database_url: str, db_engine: AsyncEngine, settings: Settings, redis_client: aioredis.Redis
) -> None:
    ids = await _in(db_engine, _create_fullon_database)
    await upgrade(database_url)
    await upgrade(database_url)  # at head: nothing to do, nothing fails
    assert await current(database_url) == HEAD

    def versions(conn: sa.Connection) -> tuple[list[str], list[str]]:
        ours = sa.Table(VERSION_TABLE, sa.MetaData(), sa.Column("version_num", sa.String(32)))
        return list(conn.scalars(sa.select(alembic_version.c.version_num))), list(
            conn.scalars(sa.select(ours.c.version_num))
        )

    assert await _in(db_engine, versions) == ([FULLON_REVISION], [HEAD])

    def fullon_writes_after_upgrade(conn: sa.Connection) -> None:
        conn.execute(
            sa.insert(orders).values(
                bot_id=8, uid=ids["uid"], ex_id=ids["ex_id"], ex_order_id=None, symbol="ETH/USD",
                order_type="limit", side="buy", volume=1.0, status="New", reason="signal",
            )
        )  # fmt: skip
        conn.execute(sa.insert(exchanges).values(uid=ids["uid"], cat_ex_id=ids["cat_ex_id"], name="spare"))

    await _in(db_engine, fullon_writes_after_upgrade)
    await Publisher(redis_client, prefix=settings.stream_prefix).publish(_events(ids))
    await _run_orm_sink(settings, redis_client, db_engine, _stored)

    since = utcnow() - timedelta(hours=1)

    def read_back(conn: sa.Connection) -> tuple[list[Any], list[Any], Any]:
        recent_orders = conn.execute(
            sa.select(orders).where(orders.c.ex_id == ids["ex_id"], orders.c.timestamp > since)
            .order_by(orders.c.order_id)
        ).all()  # fmt: skip
        recent_trades = conn.execute(
            sa.select(trades).where(trades.c.ex_id == ids["ex_id"], trades.c.time > since)
            .order_by(trades.c.time)
        ).all()  # fmt: skip
        spare = conn.execute(sa.select(exchanges).where(exchanges.c.name == "spare")).one()
        return recent_orders, recent_trades, spare

    recent_orders, recent_trades, spare = await _in(db_engine, read_back)
    assert (spare.test, spare.active) == (False, True)
    assert spare.timestamp is not None and spare.timestamp.tzinfo is None
    assert abs((utcnow() - spare.timestamp).total_seconds()) < 600

    by_id = {o.ex_order_id: o for o in recent_orders}
    assert [o.bot_id for o in recent_orders if o.ex_order_id is None] == [7, 8]
    assert (by_id["O-BOT"].bot_id, by_id["O-BOT"].reason, by_id["O-BOT"].status) == (7, "signal", "closed")
    assert (by_id["O-VENUE"].bot_id, by_id["O-VENUE"].reason) == (0, "unknown")
    for order in recent_orders:
        assert order.timestamp.tzinfo is None
        assert timedelta(0) <= utcnow() - order.timestamp < timedelta(hours=1)

    assert [t.ex_trade_id for t in recent_trades] == ["T-OLD", "T-BOT", "T-VENUE"]
    _, bot, venue = recent_trades
    assert all(t.order_type and t.cat_ex_id == ids["cat_ex_id"] for t in recent_trades)
    assert bot.order_type == "unknown"
    assert 60 <= (utcnow() - venue.time).total_seconds() < 600
    # FIFO over fullon's row too: two bought at 100 (fullon's and ours), two sold at 110.
    assert (venue.cur_volume, venue.roi) == (0.0, pytest.approx(20.0))

    def time_ms(conn: sa.Connection) -> dict[str, tuple[int, datetime]]:
        rows = conn.execute(sa.text("SELECT ex_trade_id, time_ms FROM trades")).all()
        times = {t.ex_trade_id: t.time for t in recent_trades}
        return {r[0]: (r[1], times[r[0]]) for r in rows}

    for ms, stamp in (await _in(db_engine, time_ms)).values():
        assert ms == (stamp - datetime(1970, 1, 1)) // timedelta(milliseconds=1)

    with pytest.raises(FatalError, match="shared with fullon_orm"):
        await downgrade(database_url)


async def test_upgrade_stops_on_duplicate_fullon_orders(database_url: str, db_engine: AsyncEngine) -> None:
    """fullon's upstream bug left duplicate (ex_id, ex_order_id) rows: say so, delete nothing."""

    def duplicate(conn: sa.Connection) -> None:
        ids = _create_fullon_database(conn)
        row = {"bot_id": 1, "ex_id": ids["ex_id"], "ex_order_id": "DUP", "reason": "r", "status": "open"}
        conn.execute(sa.insert(orders), [row, row])

    await _in(db_engine, duplicate)
    with pytest.raises(FatalError, match=r"orders holds 1 \(ex_id, ex_order_id\)"):
        await upgrade(database_url)
    assert await _in(db_engine, lambda c: c.scalar(sa.select(sa.func.count()).select_from(orders))) == 4


async def test_an_earlier_install_moves_its_revision_out_of_alembic_version(
    database_url: str, db_engine: AsyncEngine
) -> None:
    await upgrade(database_url, "0002")

    def to_legacy(conn: sa.Connection) -> None:
        conn.execute(sa.text(f"DROP TABLE {VERSION_TABLE}"))
        alembic_version.create(conn)
        conn.execute(sa.insert(alembic_version), [{"version_num": "0002"}, {"version_num": FULLON_REVISION}])

    await _in(db_engine, to_legacy)
    assert await current(database_url) == "0002"
    await upgrade(database_url)
    assert await current(database_url) == HEAD
    legacy = await _in(db_engine, lambda c: list(c.scalars(sa.select(alembic_version.c.version_num))))
    assert legacy == [FULLON_REVISION]


async def test_an_install_of_ours_keeps_its_rows_through_0003(
    database_url: str, db_engine: AsyncEngine
) -> None:
    """Rows stored at 0002 (``timestamptz`` on PostgreSQL) read back as the same UTC instants."""
    await upgrade(database_url, "0002")
    stamp = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)

    def write(conn: sa.Connection) -> None:
        row = {"uid": 1, "ex_id": 1, "symbol": "BTC/USD", "side": "buy", "volume": 1.0, "price": 1.0}
        conn.execute(
            sa.text(
                "INSERT INTO trades (ex_trade_id, ex_order_id, uid, ex_id, symbol, side, volume, price, "
                "cost, time, time_ms) VALUES ('T1', 'O1', :uid, :ex_id, :symbol, :side, :volume, :price, "
                "1.0, :time, :time_ms)"
            ),
            {**row, "time": stamp if conn.dialect.name == "postgresql" else stamp.replace(tzinfo=None),
             "time_ms": 1_704_164_645_678},
        )  # fmt: skip

    await _in(db_engine, write)
    await upgrade(database_url)
    read = await _in(db_engine, lambda c: c.execute(sa.select(trades.c.time)).scalar_one())
    assert read == stamp.replace(tzinfo=None)
