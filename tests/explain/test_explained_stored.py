"""Balance explained from what the sinks stored: zero when nothing is missing, a named remainder
(health fails) for a missing fill, a missing ledger entry or a wrong amount; windows wait until the
fills are surely stored."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stored_history import S, Stored, store_history
from typer.testing import CliRunner, Result

from factories import NOW_MS
from fullon_account_service.cli.app import app
from fullon_account_service.cli.health import add_explanations
from fullon_account_service.health import HealthReport
from fullon_account_service.producers.cursor import CursorStore
from fullon_account_service.settings import Settings
from fullon_account_service.storage.balance_anchors import BalanceAnchors
from fullon_account_service.storage.db.models import Ledger, Trade
from fullon_account_service.verify.stored_through import LEDGER_CURSOR


@pytest.fixture
async def stored(
    session_factory: async_sessionmaker[AsyncSession],
    database_url: str,
    redis_client: aioredis.Redis,
    settings: Settings,
) -> Stored:
    return await store_history(session_factory, database_url, redis_client, settings.stream_prefix)


async def test_every_window_explains_to_zero(stored: Stored) -> None:
    account = await stored.explain()
    assert [(w.currency, w.t0_ms, w.t1_ms) for w in account.windows] == [
        ("BTC", NOW_MS, NOW_MS + 20 * S),
        ("BTC", NOW_MS + 20 * S, NOW_MS + 60 * S),
        ("USDT", NOW_MS, NOW_MS + 20 * S),
        ("USDT", NOW_MS + 20 * S, NOW_MS + 60 * S),
    ]
    assert account.unexplained == []
    assert account.remainders() == {"BTC": 0.0, "USDT": 0.0}
    report = HealthReport()
    add_explanations(report, [account])
    assert report.healthy
    assert report.balance_explained[str(stored.ex_id)]["windows"] == 4


async def _drop_fill(stored: Stored) -> None:
    async with stored.factory() as session:
        await session.execute(delete(Trade).where(Trade.ex_trade_id == "spot-1"))
        await session.commit()


async def _drop_entry(stored: Stored) -> None:
    async with stored.factory() as session:
        await session.execute(delete(Ledger).where(Ledger.ex_ledger_id == "fund-1"))
        await session.commit()


async def _wrong_amount(stored: Stored) -> None:
    async with stored.factory() as session:
        await session.execute(update(Ledger).where(Ledger.ex_ledger_id == "dep-1").values(amount=90.0))
        await session.commit()


@pytest.mark.parametrize(
    ("damage", "remainder", "window"),
    [
        (_drop_fill, -500.5, (0, 20)),
        (_drop_entry, -0.3, (20, 60)),
        (_wrong_amount, 10.0, (20, 60)),
    ],
    ids=["missing fill", "missing ledger entry", "wrong amount"],
)
async def test_damaged_data_leaves_a_remainder_that_names_account_currency_and_window(
    stored: Stored, damage: object, remainder: float, window: tuple[int, int]
) -> None:
    await damage(stored)  # type: ignore[operator]
    account = await stored.explain()
    [usdt] = [w for w in account.unexplained if w.currency == "USDT"]
    assert usdt.remainder == pytest.approx(remainder)
    assert (usdt.t0_ms, usdt.t1_ms) == (NOW_MS + window[0] * S, NOW_MS + window[1] * S)
    assert account.remainders()["USDT"] == pytest.approx(remainder)
    report = HealthReport()
    add_explanations(report, [account])
    assert report.exit_code() == 1
    [problem] = [p for p in report.problems if "USDT" in p]
    named = f"account {stored.ex_id} USDT: {remainder:+.10g} unexplained between 2023-11-14T"
    assert problem.startswith(named)


async def test_without_a_collected_ledger_a_remainder_is_a_warning(stored: Stored) -> None:
    await CursorStore(stored.redis, prefix=stored.prefix).named(LEDGER_CURSOR).delete(stored.ex_id)
    await _drop_entry(stored)
    account = await stored.explain()
    assert account.unexplained and not account.failing
    report = HealthReport()
    add_explanations(report, [account])
    assert report.healthy
    assert any("no ledger entries are collected" in w for w in report.warnings)


async def test_windows_wait_until_the_fills_are_surely_stored(stored: Stored) -> None:
    await CursorStore(stored.redis, prefix=stored.prefix).delete(stored.ex_id)
    account = await stored.explain()
    assert (account.windows, account.waiting, account.stored_through_ms) == ([], 4, None)

    await CursorStore(stored.redis, prefix=stored.prefix).advance(stored.ex_id, NOW_MS + 30 * S)
    account = await stored.explain()
    assert (len(account.windows), account.waiting) == (2, 2)

    ledger = CursorStore(stored.redis, prefix=stored.prefix).named(LEDGER_CURSOR)
    await ledger.delete(stored.ex_id)
    await ledger.advance(stored.ex_id, NOW_MS + 10 * S)
    account = await stored.explain()
    assert (len(account.windows), account.waiting) == (0, 4)  # the ledger is read up to 10 s only


async def test_a_fill_on_the_stream_not_yet_stored_holds_the_windows_back(stored: Stored) -> None:
    stream = f"{stored.prefix}trade"
    await stored.redis.xgroup_create(stream, "orm", id="0", mkstream=True)
    assert await stored.through() == NOW_MS + 100 * S
    await stored.redis.xadd(stream, {"e": b"x"})
    assert await stored.through() is None
    await stored.redis.xreadgroup("orm", "c1", {stream: ">"})
    assert await stored.through() is None  # pending
    [(entry_id, _)] = await stored.redis.xrange(stream)
    await stored.redis.xack(stream, "orm", entry_id)
    assert await stored.through() == NOW_MS + 100 * S


async def test_anchors_keep_each_total_once_and_trim_the_oldest(redis_client: aioredis.Redis) -> None:
    anchors = BalanceAnchors(redis_client, prefix="p:", max_anchors=3)
    await anchors.record([(1, t, {"USD": float(t), "EUR": None}) for t in range(5)])
    await anchors.record([(1, 4, {"USD": 4.0})])
    assert [a.time_ms for a in (await anchors.read(1))["USD"]] == [2, 3, 4]
    assert await anchors.accounts() == [1]


async def test_the_health_command_fails_naming_the_window_and_passes_without_explaining(
    session_factory: async_sessionmaker[AsyncSession], settings: Settings, redis_url: str, tmp_path: Path
) -> None:
    redis = aioredis.Redis.from_url(redis_url)
    try:
        stored = await store_history(
            session_factory, settings.database_url, redis, settings.stream_prefix, cache_sink=False
        )
        await _drop_entry(stored)
    finally:
        await redis.aclose()
    env = {
        "REDIS_URL": redis_url,
        "DATABASE_URL": settings.database_url,
        "ACCOUNT_STREAM_PREFIX": settings.stream_prefix,
        "ACCOUNT_DATA_DIR": str(tmp_path),
        "LOG_LEVEL": "WARNING",
    }

    def health(*args: str) -> Result:
        return CliRunner().invoke(app, ["health", "--json", *args], env=env)

    failed = await asyncio.to_thread(health)
    assert failed.exit_code == 1, failed.output
    report = json.loads(failed.stdout)
    assert [p for p in report["problems"] if "unexplained" in p] == [
        f"account {stored.ex_id} USDT: -0.3 unexplained between 2023-11-14T22:13:40.000Z and "
        "2023-11-14T22:14:20.000Z (balance 499.5 -> 695.845, 4 fills/entries explain +196.645)"
    ]
    assert report["balance_explained"][str(stored.ex_id)]["remainders"]["USDT"] == pytest.approx(-0.3)
    passed = await asyncio.to_thread(health, "--no-explain")
    assert passed.exit_code == 0, passed.output
