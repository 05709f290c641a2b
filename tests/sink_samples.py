"""Builders shared by the sink tests (``tests/sinks``, ``tests/fuzz``): envelopes, deliveries and
random fill histories, and the ``db`` fixture (a plugin of the root conftest): a migrated database
with two known accounts (ex_id 1 and 2). On PostgreSQL (``DATABASE_URL`` set) the schema is
dropped and migrated afresh for each test; on SQLite each test gets its own file.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import factories
from factories import NOW_MS, deliveries
from fullon_account_service.contract import Envelope, Payload, Side, TradeFill
from fullon_account_service.ledger.fills import Fill
from fullon_account_service.settings import Settings
from fullon_account_service.storage.db import DatabaseContext, make_engine, make_session_factory
from fullon_account_service.storage.db.migrate import upgrade

EX_IDS = (1, 2)
__all__ = ["Db", "deliveries", "envelope", "pnl_fill", "random_fills", "reset_database"]


@dataclass(frozen=True)
class Db:
    url: str
    factory: async_sessionmaker[AsyncSession]


async def reset_database(url: str) -> None:
    if url.startswith("postgresql"):
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    await upgrade(url)
    engine = make_engine(url)
    async with DatabaseContext(make_session_factory(engine)) as db:
        user = await db.users.add("sinks@example.com")
        for ex_id in EX_IDS:
            exchange = await db.exchanges.add(user.uid, "kraken", f"account {ex_id}")
            assert exchange.ex_id == ex_id
    await engine.dispose()


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Db]:
    await reset_database(settings.database_url)
    engine = make_engine(settings.database_url)
    yield Db(settings.database_url, make_session_factory(engine))
    await engine.dispose()


def envelope(payload: Payload, *, ex_id: int = 1, exchange_ms: int | None = NOW_MS) -> Envelope:
    """The sinks' envelope: account 1 unless told, received half a second after ``NOW_MS``."""
    return factories.envelope(payload, ex_id=ex_id, exchange_ms=exchange_ms, received_ms=NOW_MS + 500)


def random_fills(rnd: random.Random, n: int, *, prefix: str, symbols: tuple[str, ...]) -> list[TradeFill]:
    """Fills with flips, partial closes, shorts, equal times and fees in base, quote or neither."""
    fills = []
    for i in range(n):
        symbol = rnd.choice(symbols)
        side = rnd.choice((Side.BUY, Side.SELL))
        volume = rnd.randint(1, 40) / 8
        price = rnd.randint(800, 1200) / 4
        kind = rnd.choice(("quote", "base", "none"))
        fee = (
            None if kind == "none" else round(rnd.uniform(0, 0.01), 6) * (volume if kind == "base" else price)
        )
        currency = {"quote": symbol.split("/")[1], "base": symbol.split("/")[0], "none": None}[kind]
        fills.append(
            factories.fill(
                f"{prefix}t{i:04d}",
                ex_order_id=f"{prefix}o{i // 3}",
                symbol=symbol,
                side=side,
                price=price,
                volume=volume,
                time_ms=NOW_MS + rnd.randint(0, n // 2) * 1000,
                fee=fee,
                fee_currency=currency,
                leverage=rnd.choice((None, 1.0, 3.0)),
            )
        )
    return fills


def pnl_fill(f: TradeFill) -> Fill:
    """The pure engine's view of a published fill, to check stored books against ``compute``."""
    return Fill.from_contract(f, ex_id=0, uid=0, exchange="")
