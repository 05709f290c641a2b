"""Orders upsert with monotonic state, whatever the arrival order of an order's versions."""

from __future__ import annotations

import dataclasses
import functools
import itertools
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fullon_account_service.contract.events import OrderStatus, OrderUpdate, Side
from fullon_account_service.ledger.orders import OrderRecord, merge
from fullon_account_service.storage import DatabaseContext
from fullon_account_service.storage.db.models import Order
from fullon_account_service.storage.db.order_upsert import order_row
from fullon_account_service.storage.db.repositories.orders import OrderRepository, fold

Factory = async_sessionmaker[AsyncSession]
COMPARED = (
    "status",
    "filled",
    "final_volume",
    "remaining",
    "average",
    "price",
    "volume",
    "fee",
    "fee_currency",
    "updated_ms",
    "created_ms",
    "event_id",
    "client_order_id",
)
_ex_ids = itertools.count(1)


def version(**changes: Any) -> OrderRecord:
    base = OrderRecord(
        ex_id=1,
        uid=1,
        exchange="kraken",
        ex_order_id="o-1",
        symbol="BTC/USD",
        side="buy",
        order_type="limit",
        status="open",
        volume=1.0,
        price=100.0,
        filled=0.0,
        remaining=1.0,
        created_ms=1_000,
        updated_ms=1_000,
    )
    return dataclasses.replace(base, **changes)


async def save(factory: Factory, *batches: list[OrderRecord]) -> None:
    for batch in batches:
        async with DatabaseContext(factory) as db:
            await db.orders.save_orders(batch)


async def stored(factory: Factory, ex_id: int = 1, ex_order_id: str = "o-1") -> dict[str, Any]:
    async with DatabaseContext(factory) as db:
        order = await db.orders.get_order(ex_id, ex_order_id)
        assert order is not None
        return {name: getattr(order, name) for name in COMPARED}


async def test_a_stale_open_update_never_reopens_or_regresses(session_factory: Factory) -> None:
    closed = version(status="closed", filled=1.0, remaining=0.0, average=101.0, updated_ms=3_000)
    stale = version(status="open", filled=0.4, remaining=0.6, average=100.5, updated_ms=2_000)
    await save(session_factory, [closed], [stale])
    row = await stored(session_factory)
    assert row["status"] == "closed" and row["filled"] == 1.0 and row["final_volume"] == 1.0
    assert row["remaining"] == 0.0 and row["average"] == 101.0 and row["updated_ms"] == 3_000


async def test_terminal_outranks_open_even_with_an_older_clock(session_factory: Factory) -> None:
    canceled = version(status="canceled", filled=0.3, remaining=0.7, updated_ms=1_500)
    later_open = version(status="open", filled=0.3, remaining=0.7, updated_ms=9_000)
    await save(session_factory, [later_open], [canceled], [later_open])
    row = await stored(session_factory)
    assert row["status"] == "canceled" and row["updated_ms"] == 1_500 and row["final_volume"] == 0.3


async def test_older_updates_do_not_overwrite_newer_fields(session_factory: Factory) -> None:
    newer = version(price=105.0, filled=0.5, remaining=0.5, updated_ms=5_000, event_id="new")
    older = version(price=100.0, filled=0.2, remaining=0.8, updated_ms=4_000, event_id="old", fee=0.01)
    await save(session_factory, [newer], [older])
    row = await stored(session_factory)
    assert (row["price"], row["filled"], row["remaining"], row["event_id"]) == (105.0, 0.5, 0.5, "new")
    assert row["fee"] == 0.01  # unknown in the newer version: the older one may fill the gap


async def test_unknown_fields_never_erase_known_ones(session_factory: Factory) -> None:
    first = version(average=100.2, fee=0.05, fee_currency="USD", client_order_id="c-9", updated_ms=1_000)
    second = version(average=None, fee=None, fee_currency=None, filled=None, updated_ms=2_000, remaining=None)
    await save(session_factory, [first], [second])
    row = await stored(session_factory)
    assert (row["average"], row["fee"], row["fee_currency"], row["client_order_id"]) == (
        100.2,
        0.05,
        "USD",
        "c-9",
    )
    assert row["filled"] == 0.0 and row["updated_ms"] == 2_000


@pytest.mark.parametrize("order", [("market", "unknown"), ("unknown", "market")])
async def test_an_unknown_type_never_replaces_a_known_one(
    session_factory: Factory, order: tuple[str, str]
) -> None:
    """Hyperliquid's orderUpdates carry no type: a stream version must not erase REST's "market"."""
    first, second = (version(order_type=t, updated_ms=1_000 + i) for i, t in enumerate(order))
    await save(session_factory, [first], [second])
    async with DatabaseContext(session_factory) as db:
        row = await db.orders.get_order(1, "o-1")
    assert row is not None and row.order_type == "market"
    assert merge(first, second).order_type == "market"
    async with DatabaseContext(session_factory) as db:
        await db.orders.save_orders(
            [
                version(ex_order_id="o-3", order_type="unknown"),
                version(ex_order_id="o-3", order_type="stop", updated_ms=500),
            ]
        )
        folded = await db.orders.get_order(1, "o-3")
    assert folded is not None and folded.order_type == "stop"


async def test_versions_of_one_order_in_one_batch_are_folded(session_factory: Factory) -> None:
    batch = [
        version(filled=0.5, updated_ms=2_000),
        version(status="closed", filled=1.0, remaining=0.0, updated_ms=3_000),
        version(filled=0.2, updated_ms=1_500),
        version(ex_order_id="o-2", filled=0.1),
    ]
    async with DatabaseContext(session_factory) as db:
        assert await db.orders.save_orders(batch) == 2
    assert (await stored(session_factory))["status"] == "closed"
    assert (await stored(session_factory, ex_order_id="o-2"))["filled"] == 0.1


async def test_the_row_holds_the_version_time_else_the_clock_time_in_utc_and_floats_exactly(
    session_factory: Factory,
) -> None:
    """PostgreSQL gets a batch as one JSON document: times and floats must come out as bound."""
    tokyo = timezone(timedelta(hours=9))
    clocks = {
        "aware": datetime(2026, 1, 2, 12, 0, 0, 123456, tzinfo=tokyo),
        "naive": datetime(2026, 1, 2, 3, 4, 5, 678000),  # taken as UTC, like UtcDateTime
    }
    odd = (0.1 + 0.2, 1e-08, 123456.78901234567, 5e300)
    async with session_factory() as session, session.begin():
        await OrderRepository(session).save_orders(
            [version(ex_order_id="timed", updated_ms=1_767_323_045_250, price=odd[0], volume=odd[1])]
        )
        for name, now in clocks.items():
            untimed = version(ex_order_id=name, created_ms=None, updated_ms=None, price=odd[2], fee=odd[3])
            await OrderRepository(session, clock=lambda now=now: now).save_orders([untimed])
    async with session_factory() as session:
        rows = {o.ex_order_id: o for o in (await session.scalars(select(Order))).all()}
    assert rows["timed"].timestamp == datetime(2026, 1, 2, 3, 4, 5, 250000, tzinfo=UTC)
    assert rows["aware"].timestamp == datetime(2026, 1, 2, 3, 0, 0, 123456, tzinfo=UTC)
    assert rows["naive"].timestamp == datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert (rows["timed"].price, rows["timed"].volume) == odd[:2]
    assert (rows["naive"].price, rows["naive"].fee) == odd[2:]


async def test_large_batches_are_written_in_one_go(session_factory: Factory) -> None:
    batch = [version(ex_order_id=f"o-{i}", updated_ms=i) for i in range(2_500)]
    async with DatabaseContext(session_factory) as db:
        assert await db.orders.save_orders(batch) == 2_500
        await db.orders.save_orders([dataclasses.replace(r, status="closed") for r in batch])
    async with DatabaseContext(session_factory) as db:
        count = await db.session.scalar(
            select(func.count()).select_from(Order).where(Order.status == "closed")
        )
        assert count == 2_500


async def test_record_from_contract_update() -> None:
    update = OrderUpdate(
        ex_order_id="x1",
        symbol="ETH/USDC:USDC",
        side=Side.SELL,
        order_type="limit",
        status=OrderStatus.OPEN,
        filled=0.0,
        leverage=3.0,
    )
    record = OrderRecord.from_update(
        update, ex_id=4, uid=2, exchange="hyperliquid", event_id="e1", exchange_ms=77
    )
    assert (record.side, record.status, record.updated_ms, record.event_id) == ("sell", "open", 77, "e1")
    assert order_row(record, now=_now())["futures"] is True


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


@st.composite
def lifecycles(draw: st.DrawFn, allow_unknown: bool) -> list[OrderRecord]:
    """Versions of one order in exchange order: increasing clock, filled never down."""
    count = draw(st.integers(1, 7))
    volume = 10.0
    fills = sorted(draw(st.lists(st.integers(0, 10), min_size=count, max_size=count)))
    final = draw(st.sampled_from(["open", "closed", "canceled", "expired", "rejected"]))
    versions = []
    for index, filled in enumerate(fills):
        last = index == count - 1
        maybe = (lambda v: draw(st.none() | st.just(v))) if allow_unknown else (lambda v: v)
        versions.append(
            version(
                status=final if last else "open",
                filled=maybe(float(filled)),
                remaining=maybe(volume - filled),
                volume=volume,
                average=maybe(100.0 + index),
                price=100.0,
                fee=maybe(0.01 * filled),
                fee_currency=maybe("USD"),
                created_ms=maybe(1_000),
                updated_ms=1_000 + 10 * index,
                event_id=f"ev{index}",
            )
        )
    return versions


@st.composite
def deliveries(draw: st.DrawFn, allow_unknown: bool) -> tuple[list[OrderRecord], list[list[OrderRecord]]]:
    """An order's versions, then a delivery: shuffled, some repeated, cut into batches."""
    versions = draw(lifecycles(allow_unknown))
    shuffled = draw(st.permutations(versions))
    repeats = draw(st.lists(st.sampled_from(versions), max_size=3))
    arrived = [*shuffled, *repeats]
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(arrived) - 1)), max_size=3)))
    bounds = [0, *cuts, len(arrived)]
    return versions, [arrived[a:b] for a, b in itertools.pairwise(bounds) if arrived[a:b]]


SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(deliveries(allow_unknown=False))
async def test_any_arrival_order_gives_the_newest_version(
    session_factory: Factory, case: tuple[list[OrderRecord], list[list[OrderRecord]]]
) -> None:
    versions, batches = case
    ex_id = next(_ex_ids)
    await save(session_factory, *[[dataclasses.replace(r, ex_id=ex_id) for r in batch] for batch in batches])
    newest = versions[-1]
    row = await stored(session_factory, ex_id=ex_id)
    expected = {name: getattr(newest, name) for name in COMPARED if name != "final_volume"}
    expected["final_volume"] = newest.filled if newest.is_terminal else None
    assert row == expected


@SETTINGS
@given(deliveries(allow_unknown=True))
async def test_sql_upsert_and_python_merge_agree(
    session_factory: Factory, case: tuple[list[OrderRecord], list[list[OrderRecord]]]
) -> None:
    _, batches = case
    ex_id = next(_ex_ids)
    batches = [[dataclasses.replace(r, ex_id=ex_id) for r in batch] for batch in batches]
    await save(session_factory, *batches)
    folded = functools.reduce(merge, [fold(batch)[0] for batch in batches])
    expected = {name: getattr(folded, name) for name in COMPARED if name != "final_volume"}
    expected["final_volume"] = folded.filled if folded.is_terminal else None
    assert await stored(session_factory, ex_id=ex_id) == expected
