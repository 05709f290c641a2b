"""The ORM sink stores each ledger entry once, across duplicates and redelivery, dead-letters a
bad one with its reason, and stops without dead letters when the ledger table is gone (storing
nothing of the batch meanwhile: entries, trades and orders commit together)."""

from __future__ import annotations

import contextlib

import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select, text

import factories
from fullon_account_service.bus import Consumer, Publisher
from fullon_account_service.bus.dlq_ops import LetterFilter, read_letters
from fullon_account_service.bus.streams import dead_letter_key, stream_key
from fullon_account_service.contract import LedgerEntry, LedgerReason, Source
from fullon_account_service.errors import StorageUnavailable
from fullon_account_service.ledger.entries import LedgerRecord
from fullon_account_service.settings import Settings
from fullon_account_service.sinks import orm_sink
from fullon_account_service.sinks.accounts import KnownAccounts
from fullon_account_service.sinks.orm_sink import OrmSink
from fullon_account_service.storage import DatabaseContext
from fullon_account_service.storage.db.migrate import upgrade
from fullon_account_service.storage.db.models import Trade
from sink_samples import Db, deliveries, envelope

REASONS = list(LedgerReason)


def entries(n: int, prefix: str = "L") -> list[LedgerEntry]:
    """Every reason in turn, funding and liquidations on a symbol, a fee on every third."""
    out = []
    for i in range(n):
        reason = REASONS[i % len(REASONS)]
        out.append(
            factories.ledger_entry(
                f"{prefix}{i}",
                amount=(-1) ** i * (i + 1) / 4,
                reason=reason,
                time_ms=factories.NOW_MS + i,
                symbol="BTC/USDT:USDT"
                if reason in (LedgerReason.FUNDING, LedgerReason.LIQUIDATION)
                else None,
                fee=0.01 if i % 3 == 0 else None,
                raw_type=reason.value.upper(),
            )
        )
    return out


async def stored(db: Db) -> list[LedgerRecord]:
    async with DatabaseContext(db.factory) as ctx:
        return await ctx.ledger.entries_of()


async def trades(db: Db) -> int:
    async with db.factory() as session:
        return int(await session.scalar(select(func.count()).select_from(Trade)) or 0)


def expected(sent: list[LedgerEntry], ex_id: int = 1) -> list[tuple[object, ...]]:
    return sorted((ex_id, e.ex_ledger_id, e.currency, e.amount, e.reason.value, e.fee) for e in sent)


def rows(records: list[LedgerRecord]) -> list[tuple[object, ...]]:
    return sorted((r.ex_id, r.ex_ledger_id, r.currency, r.amount, r.reason, r.fee) for r in records)


def consumer(redis: aioredis.Redis, settings: Settings, db: Db, **options: int) -> Consumer:
    return Consumer(
        redis,
        prefix=settings.stream_prefix,
        group=orm_sink.GROUP,
        consumer="c",
        kinds=orm_sink.KINDS,
        handler=OrmSink(db.factory, KnownAccounts(db.factory)).handle,
        block_ms=20,
        claim_idle_ms=50,
        **options,
    )


async def drain(consumer: Consumer, redis: aioredis.Redis, settings: Settings) -> None:
    stream = stream_key(settings.stream_prefix, "ledger")
    for _ in range(100):
        await consumer.run_once()
        if not (await redis.xpending(stream, orm_sink.GROUP))["pending"]:
            return
    raise AssertionError("ledger entries still pending after 100 rounds")


async def test_each_entry_is_stored_once_across_duplicates_and_redelivery(
    db: Db, redis_client: aioredis.Redis, settings: Settings
) -> None:
    sent = entries(30)
    ws = [envelope(e) for e in sent]
    rest = [
        factories.envelope(e, ex_id=1, source=Source.REST, received_ms=factories.NOW_MS + 900) for e in sent
    ]
    sink = consumer(redis_client, settings, db)
    await sink.ensure_groups()
    await Publisher(redis_client, prefix=settings.stream_prefix).publish(ws + rest[::2] + ws[:5])
    await drain(sink, redis_client, settings)
    assert rows(await stored(db)) == expected(sent)
    # A crash after the commit and before the acknowledgement delivers the batch again.
    handler = OrmSink(db.factory, KnownAccounts(db.factory)).handle
    await handler(deliveries(rest))
    await handler(deliveries(ws[10:] + ws[:10]))
    assert rows(await stored(db)) == expected(sent)
    assert {r.event_id for r in await stored(db)} == {e.event_id for e in ws}
    assert await redis_client.xlen(dead_letter_key(settings.stream_prefix)) == 0


async def test_an_entry_of_an_unknown_account_is_dead_lettered_with_its_reason(
    db: Db, redis_client: aioredis.Redis, settings: Settings
) -> None:
    good = entries(6)
    stray = factories.ledger_entry("stray")
    sink = consumer(redis_client, settings, db)
    await sink.ensure_groups()
    publisher = Publisher(redis_client, prefix=settings.stream_prefix)
    await publisher.publish(
        [envelope(e) for e in good[:3]] + [envelope(stray, ex_id=99)] + [envelope(e) for e in good[3:]]
    )
    await drain(sink, redis_client, settings)
    assert rows(await stored(db)) == expected(good)
    letters = await read_letters(redis_client, settings.stream_prefix, LetterFilter())
    assert [(letter.kind, letter.ex_id) for letter in letters] == [("ledger", 99)]
    assert "unknown ex_id [99]" in letters[0].reason


async def test_a_missing_ledger_table_stops_the_sink_without_dead_letters(
    db: Db, redis_client: aioredis.Redis, settings: Settings
) -> None:
    async with db.factory() as session:
        await session.execute(text("DROP TABLE ledger"))
        await session.commit()
    sent = entries(8)
    fill = factories.fill("t1", symbol="BTC/USDT:USDT")
    sink = consumer(redis_client, settings, db, max_deliveries=2)
    await sink.ensure_groups()
    await Publisher(redis_client, prefix=settings.stream_prefix).publish(
        [envelope(fill), *map(envelope, sent)]
    )
    with pytest.raises(StorageUnavailable):
        await sink.run_once()
    for _ in range(3):
        with contextlib.suppress(StorageUnavailable):
            await sink.run_once()
    assert await redis_client.xlen(dead_letter_key(settings.stream_prefix)) == 0
    assert await trades(db) == 0
    assert await upgrade(db.url) == ["ledger"]
    await drain(sink, redis_client, settings)
    assert rows(await stored(db)) == expected(sent)
    assert await trades(db) == 1
    assert await redis_client.xlen(dead_letter_key(settings.stream_prefix)) == 0
