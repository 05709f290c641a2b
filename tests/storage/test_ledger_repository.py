"""The ledger table keeps each (ex_id, ex_ledger_id, currency) once, the first version of it, and
reads an account's entries back by time window (SQLite file or DATABASE_URL)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from structlog.testing import capture_logs

from fullon_account_service.ledger.entries import LedgerRecord
from fullon_account_service.storage import DatabaseContext

Factory = async_sessionmaker[AsyncSession]


def entry(ledger_id: str, amount: float, time_ms: int, **fields: object) -> LedgerRecord:
    values: dict[str, object] = {
        "ex_id": 1,
        "uid": 1,
        "exchange": "bybit",
        "ex_ledger_id": ledger_id,
        "currency": "USDT",
        "amount": amount,
        "reason": "funding",
        "time_ms": time_ms,
        "symbol": "BTC/USDT:USDT",
    }
    values.update(fields)
    return LedgerRecord(**values)  # type: ignore[arg-type]


async def save(factory: Factory, records: list[LedgerRecord]) -> int:
    async with DatabaseContext(factory) as db:
        return await db.ledger.save_entries(records)


async def stored(factory: Factory) -> list[LedgerRecord]:
    async with DatabaseContext(factory) as db:
        return await db.ledger.entries_of()


async def test_each_entry_is_stored_once_across_repeats(session_factory: Factory) -> None:
    first = [entry("L1", -1.5, 1_000), entry("L2", 2.0, 2_000, fee=0.1, balance_after=12.5)]
    assert await save(session_factory, first + first) == 2
    assert await save(session_factory, first) == 0
    assert await stored(session_factory) == first


async def test_one_ledger_id_in_two_currencies_is_two_entries(session_factory: Factory) -> None:
    pair = [entry("X1", -100.0, 1_000, currency="USDT"), entry("X1", 0.001, 1_000, currency="BTC")]
    assert await save(session_factory, pair) == 2
    other_account = entry("X1", -100.0, 1_000, ex_id=2)
    assert await save(session_factory, [other_account]) == 1
    assert len(await stored(session_factory)) == 3


async def test_a_conflicting_repeat_keeps_the_first_and_is_logged(session_factory: Factory) -> None:
    with capture_logs() as logged:
        await save(session_factory, [entry("L1", -1.5, 1_000)])
        assert await save(session_factory, [entry("L1", -9.0, 1_000), entry("L2", 1.0, 1_000)]) == 1
        assert [r.amount for r in await stored(session_factory)] == [-1.5, 1.0]
        in_one_batch = [entry("L3", 3.0, 3_000), entry("L3", 4.0, 3_000)]
        assert await save(session_factory, in_one_batch) == 1
        assert [r.amount for r in await stored(session_factory)][-1] == 3.0
    conflicts = [e for e in logged if str(e["event"]).startswith("conflicting ledger entry")]
    assert [(e["ex_ledger_id"], e["dropped_amount"]) for e in conflicts] == [("L1", -9.0), ("L3", 4.0)]


async def test_entries_between_is_half_open_and_per_account(session_factory: Factory) -> None:
    records = [entry(f"L{t}", 1.0, t) for t in (1_000, 2_000, 3_000)] + [entry("O", 1.0, 2_000, ex_id=2)]
    await save(session_factory, records)
    async with DatabaseContext(session_factory) as db:
        window = await db.ledger.entries_between(1, 1_000, 3_000)
    assert [r.ex_ledger_id for r in window] == ["L2000", "L3000"]
