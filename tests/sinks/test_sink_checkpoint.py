"""FIFO checkpoints: in-order fills continue from ``trade_books`` without reading the fills behind
the open lots; a late fill, a re-reported fill or a row written behind the sink's back recompute
from the right point."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import msgspec
from sqlalchemy import delete, select

from fullon_account_service.ledger.booked import booked
from fullon_account_service.ledger.fifo import FifoBook, PnlRow, compute
from fullon_account_service.ledger.fills import Fill
from fullon_account_service.storage.db.column_types import utc_from_ms
from fullon_account_service.storage.db.models import Trade, TradeBook
from fullon_account_service.storage.db.repositories.trades import TradeRepository
from sink_samples import Db

SYMBOL = "BTC/USDT"
PNL = PnlRow.__struct_fields__


def record(i: int, side: str, volume: float, price: float, time_ms: int | None = None) -> Fill:
    return Fill(
        ex_id=1,
        uid=1,
        exchange="kraken",
        ex_trade_id=f"t{i:05d}",
        ex_order_id=f"o{i // 3}",
        symbol=SYMBOL,
        side=side,
        volume=volume,
        price=price,
        cost=volume * price,
        time_ms=1_000 + i if time_ms is None else time_ms,
        fee=volume * price * 0.001,
        fee_currency="USDT",
    )


def long_position(n: int, seed: int) -> list[Fill]:
    """Mostly buys, so the position never returns to flat and its lots span the whole history."""
    rnd = random.Random(seed)
    return [
        record(i, "buy" if rnd.random() < 0.7 else "sell", rnd.randint(1, 20) / 4, rnd.randint(900, 1100) / 8)
        for i in range(n)
    ]


async def save(db: Db, records: list[Fill], batch: int = 50) -> None:
    for start in range(0, len(records), batch):
        async with db.factory() as session:
            await TradeRepository(session).save_trades(records[start : start + batch])
            await session.commit()


async def stored(db: Db) -> dict[str, Trade]:
    async with db.factory() as session:
        return {t.ex_trade_id: t for t in (await session.scalars(select(Trade))).all()}


async def checkpoint(db: Db) -> TradeBook:
    async with db.factory() as session:
        return (await session.scalars(select(TradeBook))).one()


def assert_pnl(got: Trade | PnlRow, want: PnlRow, where: Any) -> None:
    for name in PNL:
        a, b = getattr(got, name), getattr(want, name)
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (where, name, a, b)


def assert_checkpoint(row: TradeBook, book: FifoBook, last: Fill) -> None:
    assert (row.last_time_ms, row.last_ex_trade_id, row.last_ex_order_id) == (
        last.time_ms,
        last.ex_trade_id,
        last.ex_order_id,
    )
    assert math.isclose(row.volume, book.volume, rel_tol=1e-9)
    lots = json.loads(row.lots)
    assert len(lots) == len(book.lots)
    for (qty, price, fee), lot in zip(lots, book.lots, strict=True):
        assert math.isclose(qty, book.direction * lot.qty, rel_tol=1e-9)
        assert (price, math.isclose(fee, lot.fee_per_unit, rel_tol=1e-9)) == (lot.price, True)


async def test_a_long_position_continues_from_its_checkpoint_alone(db: Db) -> None:
    history = long_position(400, seed=1)
    await save(db, history)
    book = FifoBook(SYMBOL)
    applied = compute(SYMBOL, history, book)
    assert book.volume > 0 and len(book.lots) > 50  # open lots reaching far back
    assert_checkpoint(await checkpoint(db), book, applied[-1][0])

    # Without the stored fills, only the checkpoint can give the next fills their PnL.
    async with db.factory() as session:
        await session.execute(delete(Trade))
        await session.commit()
    nxt = [record(400, "sell", book.volume / 2, 140.0), record(401, "buy", 3.0, 120.0)]
    await save(db, nxt)
    rows = await stored(db)
    assert set(rows) == {"t00400", "t00401"}
    full = compute(SYMBOL, history + nxt)
    for fill, want in full[-2:]:
        assert_pnl(rows[fill.ex_trade_id], want, fill.ex_trade_id)


async def test_a_late_fill_before_the_checkpoint_recomputes_from_its_time(db: Db) -> None:
    history = long_position(200, seed=2)
    late = record(999, "sell", 7.5, 130.0, time_ms=1_000 + 50)  # between t00049 and t00050
    await save(db, history)
    await save(db, [late])
    rows = await stored(db)
    book = FifoBook(SYMBOL)
    full = compute(SYMBOL, [*history, late], book)
    assert len(rows) == len(full) == 201
    for fill, want in full:
        assert_pnl(rows[fill.ex_trade_id], want, fill.ex_trade_id)
    assert_checkpoint(await checkpoint(db), book, full[-1][0])
    # ... and the next in-order fill continues from the corrected checkpoint.
    nxt = record(1000, "sell", 2.0, 125.0, time_ms=5_000)
    await save(db, [nxt])
    want = compute(SYMBOL, [*history, late, nxt])[-1][1]
    assert_pnl((await stored(db))["t01000"], want, "next")


async def test_a_fill_reported_again_with_a_later_time_is_not_counted_twice(db: Db) -> None:
    history = long_position(60, seed=3)
    await save(db, history)
    again = record(10, history[10].side, history[10].volume, history[10].price, time_ms=9_000)
    nxt = record(60, "sell", 1.0, 150.0, time_ms=9_001)
    async with db.factory() as session:
        assert await TradeRepository(session).save_trades([again, nxt]) == 1
        await session.commit()
    rows = await stored(db)
    assert rows["t00010"].time_ms == history[10].time_ms
    book = FifoBook(SYMBOL)
    full = compute(SYMBOL, [*history, nxt], book)
    for fill, want in full:
        assert_pnl(rows[fill.ex_trade_id], want, fill.ex_trade_id)
    assert_checkpoint(await checkpoint(db), book, full[-1][0])


async def test_a_row_written_past_the_checkpoint_by_another_tool_is_folded_in(db: Db) -> None:
    history = long_position(30, seed=4)
    await save(db, history)
    outsider = record(30, "sell", 2.5, 140.0)
    async with db.factory() as session:
        values = {
            k: v
            for k, v in msgspec.structs.asdict(booked(outsider, PnlRow(0, 0, 0, 0, 0, 0, 0))).items()
            if k not in PNL
        }
        session.add(Trade(**values, time=utc_from_ms(outsider.time_ms)))
        await session.commit()
    await save(db, [record(31, "sell", 1.0, 141.0)])
    rows = await stored(db)
    for fill, want in compute(SYMBOL, [*history, outsider, record(31, "sell", 1.0, 141.0)]):
        assert_pnl(rows[fill.ex_trade_id], want, fill.ex_trade_id)
