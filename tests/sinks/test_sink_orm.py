"""The ORM sink stores the same books whatever the arrival order, and replays change nothing."""

from __future__ import annotations

import asyncio
import math
import random
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import factories
from fullon_account_service.bus import Consumer, Publisher
from fullon_account_service.bus.streams import dead_letter_key
from fullon_account_service.contract import OrderStatus, OrderUpdate, Side, TradeFill
from fullon_account_service.errors import ContractError, TransientError
from fullon_account_service.ledger.fifo import compute
from fullon_account_service.ledger.fills import Fill
from fullon_account_service.settings import Settings
from fullon_account_service.sinks.accounts import KnownAccounts
from fullon_account_service.sinks.orm_sink import OrmSink
from fullon_account_service.storage.db import make_engine, make_session_factory
from fullon_account_service.storage.db.column_types import utc_from_ms
from fullon_account_service.storage.db.models import Order, Trade
from fullon_account_service.storage.db.repositories.trades import TradeRepository
from sink_samples import Db, deliveries, envelope, pnl_fill, random_fills

PNL = ("cur_volume", "cur_avg_price", "cur_avg_cost", "cur_fee", "roi", "roi_pct", "total_fee")
SYMBOLS = ("BTC/USDT", "ETH/USD:USD")


async def book(db: Db, ex_id: int) -> dict[str, dict[str, Any]]:
    """The stored trades of one account keyed by trade id without its run prefix."""
    async with db.factory() as session:
        rows = (await session.scalars(select(Trade).where(Trade.ex_id == ex_id))).all()
    return {r.ex_trade_id[1:]: {name: getattr(r, name) for name in (*PNL, "symbol", "volume")} for r in rows}


def assert_same_books(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> None:
    assert a.keys() == b.keys()
    for key, row in a.items():
        for name, value in row.items():
            other = b[key][name]
            if isinstance(value, float):
                assert math.isclose(value, other, rel_tol=1e-9, abs_tol=1e-9), (key, name, value, other)
            else:
                assert value == other, (key, name)


def chunks(items: list[Any], rnd: random.Random) -> list[list[Any]]:
    out, i = [], 0
    while i < len(items):
        size = rnd.randint(1, 25)
        out.append(items[i : i + size])
        i += size
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_out_of_order_arrival_gives_the_in_order_books(db: Db, seed: int) -> None:
    rnd = random.Random(seed)
    sink = OrmSink(db.factory, KnownAccounts(db.factory))
    in_order = random_fills(random.Random(seed), 120, prefix="a", symbols=SYMBOLS)
    shuffled = random_fills(random.Random(seed), 120, prefix="b", symbols=SYMBOLS)
    in_order.sort(key=lambda f: (f.time_ms, f.ex_trade_id))
    rnd.shuffle(shuffled)
    for batch in chunks(in_order, rnd):
        await sink.handle(deliveries([envelope(f, ex_id=1) for f in batch]))
    for batch in chunks(shuffled, rnd):
        await sink.handle(deliveries([envelope(f, ex_id=2) for f in batch]))
    stored = await book(db, 1)
    assert_same_books(stored, await book(db, 2))
    # ... and both are the pure engine's result over the whole history.
    for symbol in SYMBOLS:
        fills = [pnl_fill(f) for f in in_order if f.symbol == symbol]
        for fill, row in compute(symbol, fills):
            for name in PNL:
                assert math.isclose(stored[fill.ex_trade_id[1:]][name], getattr(row, name), abs_tol=1e-9)


async def test_replaying_the_whole_stream_changes_nothing(db: Db) -> None:
    rnd = random.Random(11)
    sink = OrmSink(db.factory, KnownAccounts(db.factory))
    fills = random_fills(rnd, 80, prefix="a", symbols=SYMBOLS)
    orders = [
        OrderUpdate(
            ex_order_id=f"o{i}",
            symbol="BTC/USDT",
            side=Side.BUY,
            order_type="limit",
            status=status,
            volume=1.0,
            filled=filled,
            updated_ms=1_700_000_000_000 + i * 10 + step,
        )
        for i in range(10)
        for step, (status, filled) in enumerate([(OrderStatus.OPEN, 0.5), (OrderStatus.CLOSED, 1.0)])
    ]
    stream = [envelope(p) for p in [*fills, *orders]]
    for batch in chunks(stream, rnd):
        await sink.handle(deliveries(batch))

    async def snapshot() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        async with db.factory() as session:
            trades = (await session.execute(select(Trade).order_by(Trade.trade_id))).scalars().all()
            stored_orders = (await session.execute(select(Order).order_by(Order.order_id))).scalars().all()
            return (
                [(t.trade_id, t.ex_trade_id, *(getattr(t, n) for n in PNL)) for t in trades],
                [(o.order_id, o.ex_order_id, o.status, o.filled, o.final_volume) for o in stored_orders],
            )

    before = await snapshot()
    assert len(before[0]) == 80 and len(before[1]) == 10
    assert all(row[2] == "closed" and row[3] == 1.0 for row in before[1])
    replay = stream[:]
    rnd.shuffle(replay)
    for batch in chunks(replay, rnd):
        await sink.handle(deliveries(batch))
    assert await snapshot() == before


async def test_unknown_account_and_unusable_fill_are_contract_errors(db: Db) -> None:
    sink = OrmSink(db.factory, KnownAccounts(db.factory))
    good = factories.fill("t1", ex_order_id="o1", side=Side.BUY, price=10.0, volume=1.0, time_ms=1)
    with pytest.raises(ContractError, match="unknown ex_id"):
        await sink.handle(deliveries([envelope(good, ex_id=99)]))
    empty = factories.fill("t2", ex_order_id="o1", side=Side.BUY, price=10.0, volume=0.0, time_ms=1)
    with pytest.raises(ContractError, match="must be positive"):
        await sink.handle(deliveries([envelope(empty)]))
    await sink.handle(deliveries([envelope(good)]))
    async with db.factory() as session:
        trades = await TradeRepository(session).get_exchange_trades(1)
    assert [(t.ex_trade_id, t.cur_volume, t.cur_avg_price) for t in trades] == [("t1", 1.0, 10.0)]


async def test_rows_without_pnl_make_the_symbol_recompute(db: Db) -> None:
    """A row another tool wrote without PnL columns (and so without a checkpoint) is folded in from
    the symbol's first fill."""
    base = dict(ex_id=1, uid=1, exchange="kraken", symbol="BTC/USDT", price=10.0, cost=10.0)
    async with db.factory() as session:
        row = dict(ex_trade_id="t1", ex_order_id="o", side="buy", volume=2.0, time_ms=1, time=utc_from_ms(1))
        session.add(Trade(**row, **base))
        await session.commit()
    later = Fill(
        ex_trade_id="t2", ex_order_id="o", side="sell", volume=1.0, time_ms=2, **{**base, "price": 12.0}
    )
    async with db.factory() as session:
        assert await TradeRepository(session).save_trades([later, later]) == 1
        await session.commit()
        trades = await TradeRepository(session).get_exchange_trades(1)
    assert [(t.ex_trade_id, t.cur_volume, t.roi) for t in trades] == [("t2", 1.0, 2.0), ("t1", 2.0, 0.0)]


async def test_two_sinks_on_one_symbol_at_once_keep_the_books_right(db: Db) -> None:
    """The per-symbol lock serialises PnL replays of concurrent transactions: in time order, a
    batch computed without seeing the other sink's uncommitted batch would never be corrected."""
    rnd = random.Random(5)
    fills = random_fills(random.Random(5), 150, prefix="a", symbols=("BTC/USDT",))
    shuffled = sorted(fills, key=lambda f: (f.time_ms, f.ex_trade_id))
    sinks = [OrmSink(db.factory, KnownAccounts(db.factory)) for _ in range(2)]
    batches = chunks(shuffled, rnd)

    async def run(sink: OrmSink, mine: list[list[TradeFill]]) -> None:
        for batch in mine:
            await sink.handle(deliveries([envelope(f) for f in batch]))

    async with asyncio.timeout(60):
        await asyncio.gather(run(sinks[0], batches[0::2]), run(sinks[1], batches[1::2]))
    stored = await book(db, 1)
    fills_pnl = compute(
        "BTC/USDT",
        [pnl_fill(f) for f in fills],
    )
    assert len(stored) == len(fills)
    for fill, row in fills_pnl:
        for name in PNL:
            assert math.isclose(stored[fill.ex_trade_id[1:]][name], getattr(row, name), abs_tol=1e-9)


async def test_database_outage_leaves_entries_pending_until_it_is_back(
    db: Db, redis_client: aioredis.Redis, settings: Settings
) -> None:
    fills = random_fills(random.Random(8), 30, prefix="a", symbols=SYMBOLS)
    await Publisher(redis_client, prefix=settings.stream_prefix).publish([envelope(f) for f in fills])
    down_engine = make_engine("postgresql+asyncpg://postgres@127.0.0.1:1/unreachable")
    down = make_session_factory(down_engine)

    def consumer(factory: async_sessionmaker[AsyncSession], name: str) -> Consumer:
        return Consumer(
            redis_client,
            prefix=settings.stream_prefix,
            group="orm",
            consumer=name,
            kinds=("order", "trade"),
            handler=OrmSink(factory, KnownAccounts(factory)).handle,
            claim_idle_ms=50,
        )

    outage = consumer(down, "a")
    await outage.ensure_groups()
    with pytest.raises(TransientError):
        await outage.run_once()
    await down_engine.dispose()
    stream = f"{settings.stream_prefix}trade"
    assert (await redis_client.xpending(stream, "orm"))["pending"] == 30
    assert await redis_client.xlen(dead_letter_key(settings.stream_prefix)) == 0

    recovered = consumer(db.factory, "b")
    async with asyncio.timeout(60):
        while (await redis_client.xpending(stream, "orm"))["pending"]:
            await recovered.run_once()
            await asyncio.sleep(0.06)
    async with db.factory() as session:
        assert len(await TradeRepository(session).get_exchange_trades(1, limit=100)) == 30
