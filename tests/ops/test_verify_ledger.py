"""The books check covers the ledger: every truth entry stored exactly once, none extra, each with
its amount; the demo's verdict is not EQUAL when one is missing, doubled, wrong or invented."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stored_truth import AccountIds, demo_result
from truth_events import envelope, ledger_payload, simulated_truth, truth_envelopes

from fullon_account_service.demo.report import EQUAL_LINE, summary_lines
from fullon_account_service.ledger.entries import LedgerRecord
from fullon_account_service.storage.db.models import Ledger
from fullon_account_service.storage.db.repositories.ledger import LedgerRepository
from fullon_account_service.verify import BooksComparison, compare_books, compare_events, verify_books
from fullon_account_service.verify.compare import Books


def synthetic_ledger(account: dict[str, Any]) -> list[dict[str, Any]]:
    """Every kind of entry the truth can hold, should the simulator book none in this scenario."""
    ts = account["fills"][-1]["ts_ms"] if account["fills"] else 1_700_000_000_000
    symbol = account["fills"][0]["symbol"] if account["fills"] else "BTC/USDT:USDT"
    tag = f"{account['venue']}{account['index']}"

    def entry(n: int, reason: str, currency: str, amount: float, **fields: Any) -> dict[str, Any]:
        row = {"symbol": None, "fee": None, "fee_currency": None, "raw_type": reason.upper()}
        row.update(fields)
        return {
            "id": f"{tag}-{n}",
            "currency": currency,
            "amount": amount,
            "reason": reason,
            "ts_ms": ts + n,
            **row,
        }

    return [
        entry(1, "funding", "USDT", -0.125, symbol=symbol),
        entry(2, "funding", "USDT", 0.5, symbol=symbol),
        entry(3, "deposit", "USDT", 1000.0),
        entry(4, "withdrawal", "USDT", -50.0, fee=1.0, fee_currency="USDT"),
        entry(5, "transfer_out", "USDT", -10.0),
        entry(5, "transfer_in", "BTC", 0.0002),  # one transaction in two currencies
        entry(6, "liquidation", "USDT", -3.0, symbol=symbol),
    ]


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    truth = copy.deepcopy(simulated_truth())
    for account in truth["accounts"]:
        if not account.get("ledger"):
            account["ledger"] = synthetic_ledger(account)
    return truth


def entries(truth: dict[str, Any]) -> int:
    return sum(len(a["ledger"]) for a in truth["accounts"])


def verdict(result: BooksComparison) -> list[str]:
    return summary_lines(demo_result(result))


async def test_perfect_ledger_is_equal_and_in_the_verdict(
    session_factory: async_sessionmaker[AsyncSession],
    redis_client: aioredis.Redis,
    truth: dict[str, Any],
    stored: AccountIds,
) -> None:
    result = await verify_books(truth, stored, session_factory, redis_client)
    assert result.differences == []
    assert result.ledger == entries(truth) > 0
    equal = [line for line in verdict(result) if line.startswith(EQUAL_LINE)]
    assert equal and f"{entries(truth)} ledger entries" in equal[0]


async def test_a_missing_a_wrong_and_an_invented_entry_are_each_named(
    session_factory: async_sessionmaker[AsyncSession],
    redis_client: aioredis.Redis,
    truth: dict[str, Any],
    stored: AccountIds,
) -> None:
    ledger = truth["accounts"][0]["ledger"]
    lost, wrong = ledger[0], ledger[1]
    async with session_factory() as session:
        await session.execute(delete(Ledger).where(Ledger.ex_ledger_id == lost["id"]))
        await session.execute(
            update(Ledger).where(Ledger.ex_ledger_id == wrong["id"]).values(amount=wrong["amount"] * 2)
        )
        await session.commit()
    ex_id = stored[("kraken", 0)]
    invented = LedgerRecord(
        ex_id=ex_id, uid=1, exchange="kraken", ex_ledger_id="ghost", currency="USD", amount=5.0,
        reason="deposit", time_ms=1,
    )  # fmt: skip
    async with session_factory() as session:
        await LedgerRepository(session).save_entries([invented])
        await session.commit()
    result = await verify_books(truth, stored, session_factory, redis_client)
    text = "\n".join(result.differences)
    assert result.total_differences == 3, text
    assert (
        f"ledger entry {lost['id']} {lost['currency']} ({lost['reason']} {lost['amount']:g}) is missing"
        in text
    )
    assert f"ledger entry {wrong['id']} {wrong['currency']} differs in amount" in text
    assert "ledger entry ghost USD (deposit 5) was never booked on the venue" in text
    lines = verdict(result)
    assert any(line.startswith("books: NOT equal") for line in lines)
    assert not any(line.startswith(EQUAL_LINE) for line in lines)


def test_a_doubled_entry_is_named(truth: dict[str, Any]) -> None:
    """The events check: an entry published under a second id would be stored twice."""
    ids = {(a["venue"], a["index"]): n for n, a in enumerate(truth["accounts"], 1)}
    events = truth_envelopes(truth, ids)
    assert compare_events(truth, ids, [*events, *events[:5]]).equal  # same ids: deduplicated
    first = next(e for e in events if e.kind == "ledger")
    double = envelope(first.ex_id, first.exchange, first.payload, first.exchange_ms or 0, eid="d" * 32)
    result = compare_events(truth, ids, [*events, double])
    assert result.total_differences == 1 and "is there 2 times" in result.differences[0]
    assert any(line.startswith("books: NOT equal") for line in verdict(result))


def test_each_field_is_compared(truth: dict[str, Any]) -> None:
    account = truth["accounts"][0]
    ids = {(account["venue"], account["index"]): 1}
    only = {"accounts": [{**account, "fills": [], "orders": [], "balances": {}, "positions": []}]}
    entry = account["ledger"][3]  # the withdrawal with a fee
    for change, field in (
        ({"reason": "deposit"}, "reason"),
        ({"symbol": "ETH/USDT:USDT"}, "symbol"),
        ({"fee": None}, "fee"),
        ({"fee_currency": "BTC"}, "fee currency"),
        ({"ts_ms": entry["ts_ms"] + 5_000}, "time"),
    ):
        books = Books()
        for row in account["ledger"]:
            payload = ledger_payload({**row, **change} if row is entry else row)
            books.add_entry(LedgerRecord.from_contract(payload, ex_id=1, uid=1, exchange="kraken"))
        result = compare_books(only, ids, {1: books})
        assert result.total_differences == 1, (field, result.differences)
        assert f"differs in {field}:" in result.differences[0]


def test_a_truth_without_a_ledger_expects_none(truth: dict[str, Any]) -> None:
    ids = {(a["venue"], a["index"]): n for n, a in enumerate(truth["accounts"], 1)}
    older = copy.deepcopy(truth)
    for account in older["accounts"]:
        del account["ledger"]
    without = truth_envelopes(older, ids)
    assert compare_events(older, ids, without).equal
    result = compare_events(older, ids, truth_envelopes(truth, ids))
    assert result.total_differences == entries(truth)
    assert all("was never booked on the venue" in d for d in result.differences)
