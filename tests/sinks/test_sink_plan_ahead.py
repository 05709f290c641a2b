"""The ORM sink's plan made ahead (``OrmSink.prepare``) stores the same books as planning in the
transaction: used when the checkpoints it assumed hold, planned again when they do not (another
sink wrote the symbol, or the batch it followed was never stored)."""

from __future__ import annotations

import asyncio
import itertools
import math
import random
from typing import Any

import pytest
from sqlalchemy import select

from fullon_account_service.contract import TradeFill
from fullon_account_service.ledger.fifo import compute
from fullon_account_service.sinks.accounts import KnownAccounts
from fullon_account_service.sinks.orm_sink import OrmSink
from fullon_account_service.storage.db.models import Trade
from fullon_account_service.storage.db.repositories.trades import TradeRepository
from sink_samples import Db, deliveries, envelope, pnl_fill, random_fills

PNL = ("cur_volume", "cur_avg_price", "cur_avg_cost", "cur_fee", "roi", "roi_pct", "total_fee")
SYMBOLS = ("BTC/USDT", "ETH/USD:USD")


def in_order(seed: int, n: int) -> list[TradeFill]:
    fills = random_fills(random.Random(seed), n, prefix="a", symbols=SYMBOLS)
    return sorted(fills, key=lambda f: (f.time_ms, f.ex_trade_id, f.ex_order_id))


def batches(fills: list[TradeFill], size: int) -> list[Any]:
    return [deliveries([envelope(f) for f in fills[i : i + size]]) for i in range(0, len(fills), size)]


async def assert_engine_books(db: Db, fills: list[TradeFill]) -> None:
    """The stored PnL of every fill is the pure engine's over the whole history."""
    async with db.factory() as session:
        rows = {r.ex_trade_id: r for r in (await session.scalars(select(Trade))).all()}
    assert len(rows) == len(fills)
    for symbol in SYMBOLS:
        for fill, pnl in compute(symbol, [pnl_fill(f) for f in fills if f.symbol == symbol]):
            for name in PNL:
                stored = getattr(rows[fill.ex_trade_id], name)
                assert math.isclose(stored, getattr(pnl, name), abs_tol=1e-9), (fill.ex_trade_id, name)


@pytest.fixture
def planned_in_transaction(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many fills were planned inside the transaction, batch by batch."""
    calls: list[int] = []
    original = TradeRepository._plan_new

    async def counting(self: TradeRepository, unique: Any, checkpoints: Any) -> Any:
        calls.append(len(unique))
        return await original(self, unique, checkpoints)

    monkeypatch.setattr(TradeRepository, "_plan_new", counting)
    return calls


async def test_a_plan_made_ahead_is_stored_when_its_checkpoints_hold(
    db: Db, planned_in_transaction: list[int]
) -> None:
    fills = in_order(1, 120)
    sink = OrmSink(db.factory, KnownAccounts(db.factory))
    parts = batches(fills, 20)
    # As a consumer reading ahead calls them: each batch prepared while the one before is stored.
    await sink.handle(parts[0])  # no checkpoint expected yet: planned in the transaction
    await sink.prepare(parts[1])
    for current, ahead in itertools.pairwise(parts[1:]):
        await asyncio.gather(sink.handle(current), sink.prepare(ahead))
    await sink.handle(parts[-1])
    assert planned_in_transaction == [20]
    await assert_engine_books(db, fills)


async def test_a_stale_plan_is_planned_again(db: Db, planned_in_transaction: list[int]) -> None:
    """Two sinks take turns on the same symbols, so each one's expected checkpoints are the ones
    it wrote before the other sink moved them on."""
    fills = in_order(2, 150)
    sinks = [OrmSink(db.factory, KnownAccounts(db.factory)) for _ in range(2)]
    for i, part in enumerate(batches(fills, 15)):
        sink = sinks[i % 2]
        await sink.prepare(part)
        await sink.handle(part)
    assert len(planned_in_transaction) >= 9  # every turn after the second found its plan stale
    await assert_engine_books(db, fills)


async def test_a_plan_after_a_batch_never_stored_is_planned_again(db: Db) -> None:
    fills = in_order(3, 90)
    sink = OrmSink(db.factory, KnownAccounts(db.factory))
    first, lost, after = batches(fills, 30)
    await sink.handle(first)
    await sink.prepare(lost)
    await sink.prepare(after)  # assumes ``lost`` stored: it is not, yet
    await sink.handle(after)
    await sink.handle(lost)  # late: older than the stored checkpoints, so the books are replayed
    await assert_engine_books(db, fills)
