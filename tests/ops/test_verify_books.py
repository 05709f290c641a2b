"""The books check: perfect events through the real sinks give equal books; each kind of damage is named."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stored_truth import AccountIds, demo_result, store_truth
from truth_events import NOW_MS, envelope, fill_payload, order_payload, simulated_truth, truth_envelopes

from fullon_account_service.demo.report import summary_lines
from fullon_account_service.ledger.fifo import FifoBook, PnlRow
from fullon_account_service.ledger.fills import Fill
from fullon_account_service.storage.account_cache import AccountCache
from fullon_account_service.storage.db.models import Order, Trade
from fullon_account_service.verify import compare_events, verify_books
from fullon_account_service.verify.pnl import walk


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    return simulated_truth()


async def test_perfect_books_are_equal(
    session_factory: async_sessionmaker[AsyncSession],
    redis_client: aioredis.Redis,
    truth: dict[str, Any],
    stored: AccountIds,
) -> None:
    result = await verify_books(truth, stored, session_factory, redis_client)
    assert result.differences == []
    assert result.equal
    assert result.accounts == 3
    assert result.fills == sum(len(a["fills"]) for a in truth["accounts"]) > 0
    assert any(a["positions"] for a in truth["accounts"] if a["venue"] == "hyperliquid")


async def test_each_damage_is_reported(
    session_factory: async_sessionmaker[AsyncSession],
    redis_client: aioredis.Redis,
    truth: dict[str, Any],
    stored: AccountIds,
) -> None:
    kraken = truth["accounts"][0]
    ex_id = stored[("kraken", 0)]
    lost_fill = kraken["fills"][0]["id"]
    order = next(o for o in kraken["orders"] if o["status"] == "closed")
    async with session_factory() as session:
        await session.execute(delete(Trade).where(Trade.ex_trade_id == lost_fill))
        await session.execute(
            update(Order).where(Order.ex_order_id == order["id"]).values(status="open", filled=0.0)
        )
        await session.commit()
    cache = AccountCache(redis_client)
    balances = await cache.get_account(ex_id)
    assert balances is not None
    balances["USD"] = {"total": 1.0, "free": None, "used": None}
    await cache.upsert_user_account(ex_id, {k: v for k, v in balances.items() if k != "date"})
    await cache.upsert_positions(stored[("bybit", 0)], [])

    result = await verify_books(truth, stored, session_factory, redis_client, limit=2)
    text = "\n".join(result.differences)
    assert not result.equal
    assert len(result.differences) == 2
    assert result.total_differences >= 4 + len(truth["accounts"][1]["positions"]) - 1
    assert f"fill {lost_fill}" in text
    full = await verify_books(truth, stored, session_factory, redis_client)
    text = "\n".join(full.differences)
    assert f"order {order['id']} is open" in text
    assert "balance USD differs in total" in text
    assert "position" in text and "is missing" in text


async def test_free_and_used_unknown_are_accepted(
    session_factory: async_sessionmaker[AsyncSession],
    redis_client: aioredis.Redis,
    truth: dict[str, Any],
    stored: AccountIds,
) -> None:
    """Kraken's balance channel carries totals only: unknown free/used is not a difference."""
    ex_id = stored[("kraken", 0)]
    totals = {cur: {"total": b["total"]} for cur, b in truth["accounts"][0]["balances"].items()}
    await AccountCache(redis_client).upsert_user_account(ex_id, totals)
    assert (await verify_books(truth, stored, session_factory, redis_client)).equal


def test_events_equal_despite_duplicates_and_stale_versions(truth: dict[str, Any]) -> None:
    ids = {(a["venue"], a["index"]): n for n, a in enumerate(truth["accounts"], 1)}
    events = truth_envelopes(truth, ids)
    closed = next(o for o in truth["accounts"][0]["orders"] if o["status"] == "closed")
    stale = envelope(1, "kraken", order_payload(closed, status="open"), closed["created_ms"])
    result = compare_events(truth, ids, [stale, *events, *events[:10], stale])
    assert result.differences == []


def test_events_name_double_missing_and_wrong(truth: dict[str, Any]) -> None:
    ids = {(a["venue"], a["index"]): n for n, a in enumerate(truth["accounts"], 1)}
    events = truth_envelopes(truth, ids)
    fills = [e for e in events if e.kind == "trade"]
    double = envelope(fills[0].ex_id, fills[0].exchange, fills[0].payload, NOW_MS, eid="f" * 32)
    missing = fills[1]
    damaged = [e for e in events if e is not missing] + [double]
    result = compare_events(truth, ids, damaged)
    text = "\n".join(result.differences)
    assert result.total_differences == 2, text
    assert "is there 2 times" in text
    assert "is missing" in text


def test_kraken_fee_in_quote_terms_is_accepted(truth: dict[str, Any]) -> None:
    """Kraken's trade history shows a fee charged in base as its quote value at the fill price."""
    ids = {(a["venue"], a["index"]): n for n, a in enumerate(truth["accounts"], 1)}
    kraken = truth["accounts"][0]
    fill = next(f for f in kraken["fills"] if f["fee_currency"] == f["symbol"].split("/")[0] and f["fee"])
    quote = fill["symbol"].split("/")[1]
    events = [e for e in truth_envelopes(truth, ids) if getattr(e.payload, "ex_trade_id", None) != fill["id"]]
    as_quote = {**fill, "fee": fill["fee"] * fill["price"], "fee_currency": quote}
    assert compare_events(truth, ids, [*events, envelope(1, "kraken", fill_payload(as_quote), NOW_MS)]).equal
    wrong = {**as_quote, "fee": fill["fee"] * fill["price"] * 2}
    result = compare_events(truth, ids, [*events, envelope(1, "kraken", fill_payload(wrong), NOW_MS)])
    assert result.total_differences == 1 and "differs in fee" in result.differences[0]


async def test_an_engine_that_forgets_fees_is_not_equal(
    session_factory: async_sessionmaker[AsyncSession],
    redis_client: aioredis.Redis,
    truth: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The verdict checks realised PnL itself: a FIFO engine that leaves fees out is caught."""
    apply = FifoBook.apply

    def forgets_fees(book: FifoBook, fill: Fill) -> PnlRow:
        row = apply(book, fill)
        return msgspec.structs.replace(row, roi=row.roi + row.total_fee)

    monkeypatch.setattr(FifoBook, "apply", forgets_fees)
    ids = await store_truth(session_factory, redis_client, truth)
    result = await verify_books(truth, ids, session_factory, redis_client)
    text = "\n".join(result.differences)
    assert not result.equal
    assert "stored realised PnL" in text and "round trip" in text
    assert "is missing" not in text and "differs" not in text  # the transport was perfect
    lines = summary_lines(demo_result(result))
    assert any(line.startswith("books: NOT equal") for line in lines)
    assert any("stored realised PnL" in line for line in lines)


async def test_unknown_or_wrong_pnl_and_position_rows_are_differences(
    session_factory: async_sessionmaker[AsyncSession],
    redis_client: aioredis.Redis,
    truth: dict[str, Any],
    stored: AccountIds,
) -> None:
    """``None`` where the truth knows the number is a difference, as is a wrong final position."""
    trips: list[tuple[str, list[str]]] = []
    newest: dict[str, str] = {}
    for account in truth["accounts"]:
        by_symbol: dict[str, list[dict[str, Any]]] = {}
        for fill in account["fills"]:
            by_symbol.setdefault(fill["symbol"], []).append(fill)
        for name, fills in by_symbol.items():
            done, _, _ = walk(fills, lambda f: (f["fee"], f["fee_currency"]))
            trips += [(name, trip.fill_ids) for trip in done]
            newest[name] = max(fills, key=lambda f: (f["ts_ms"], f["id"], f["order_id"]))["id"]
    assert trips, "the sample scenario closes no position"
    symbol, trip = trips[0]
    moved = sorted(newest)[0]
    moved_id = newest[moved]
    async with session_factory() as session:
        await session.execute(update(Trade).where(Trade.ex_trade_id == trip[-1]).values(roi=None))
        await session.execute(update(Trade).where(Trade.ex_trade_id == moved_id).values(cur_volume=123.0))
        await session.commit()
    result = await verify_books(truth, stored, session_factory, redis_client)
    text = "\n".join(result.differences)
    assert f"{symbol} round trip" in text and f"realised PnL unknown for fill {trip[-1]}" in text
    assert f"{moved} position after fill {newest[moved]} is 123" in text


async def test_unknown_entry_price_is_a_difference(
    session_factory: async_sessionmaker[AsyncSession],
    redis_client: aioredis.Redis,
    truth: dict[str, Any],
    stored: AccountIds,
) -> None:
    account = next(a for a in truth["accounts"] if a["positions"])
    ex_id = stored[(account["venue"], account["index"])]
    cache = AccountCache(redis_client)
    positions = await cache.get_positions(ex_id)
    await cache.upsert_positions(ex_id, [{**p, "price": None} for p in positions])
    result = await verify_books(truth, stored, session_factory, redis_client)
    assert not result.equal
    assert "position" in "\n".join(result.differences)


async def test_unknown_fee_and_filled_are_differences(
    session_factory: async_sessionmaker[AsyncSession],
    redis_client: aioredis.Redis,
    truth: dict[str, Any],
    stored: AccountIds,
) -> None:
    """Even where the truth's value is 0: the stored ``None`` says the service does not know it."""
    fills = [f for a in truth["accounts"] for f in a["fills"]]
    fill = min(fills, key=lambda f: f["fee"])
    order = next(o for a in truth["accounts"] for o in a["orders"] if o["filled"] == 0)
    async with session_factory() as session:
        await session.execute(update(Trade).where(Trade.ex_trade_id == fill["id"]).values(fee=None))
        await session.execute(update(Order).where(Order.ex_order_id == order["id"]).values(filled=None))
        await session.commit()
    result = await verify_books(truth, stored, session_factory, redis_client)
    text = "\n".join(result.differences)
    assert f"fill {fill['id']} differs in fee" in text
    assert f"order {order['id']} is " in text and "filled None" in text
