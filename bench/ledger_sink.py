"""Ledger sink throughput on real Redis and PostgreSQL, against one entry per transaction.

    REDIS_URL=redis://127.0.0.1:6379/1 DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1/test_h1 \\
        uv run python bench/ledger_sink.py [--entries N] [--baseline N] [--runs N]

ORM sink: ledger entries of 20 accounts (funding on 5 symbols, deposits, withdrawals with a fee,
transfers), every fifth one published twice (WebSocket and REST), consumed by one sink consumer
(batches of 500) through ``Consumer.run_once``: decode, insert once, commit, XACK. Baseline:
``LedgerRepository.save_entries([one])`` + commit per entry, the shape of a collector writing
straight to the database (no bus). Each run uses fresh accounts and its own baseline; the end
prints each figure as ``median (min-max)`` over the runs, and the CPU left idle (``machine``).
The bench's user, accounts, rows and stream keys are removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import uuid

import msgspec
import redis.asyncio as aioredis
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fullon_account_service.contract import Envelope, LedgerEntry, LedgerReason, Source
from fullon_account_service.ledger.entries import LedgerRecord
from fullon_account_service.sinks.accounts import KnownAccounts
from fullon_account_service.sinks.orm_sink import GROUP, KINDS, OrmSink
from fullon_account_service.storage.db import make_engine, make_session_factory
from fullon_account_service.storage.db.migrate import upgrade
from fullon_account_service.storage.db.models import Ledger
from fullon_account_service.storage.db.repositories.ledger import LedgerRepository
from machine import CpuTimes, cpu_since
from sinks import T0, cleanup, consume, one_by_one, publish, setup_accounts, wrap
from spread import runs_option, spread

ACCOUNTS = 20
SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT", "DOGE/USDT:USDT")
DOUBLED_EVERY = 5


def entry(tag: str, i: int, rnd: random.Random) -> LedgerEntry:
    """Mostly funding, as a perp account's ledger is; the other reasons in between."""
    kind = i % 10
    if kind < 7:
        return LedgerEntry(
            ex_ledger_id=f"{tag}-{i}",
            currency="USDT",
            amount=round(rnd.uniform(-2, 2), 6),
            reason=LedgerReason.FUNDING,
            time_ms=T0 + i,
            symbol=SYMBOLS[i % len(SYMBOLS)],
            raw_type="SETTLEMENT",
        )
    reason = (LedgerReason.DEPOSIT, LedgerReason.WITHDRAWAL, LedgerReason.TRANSFER_IN)[kind - 7]
    amount = round(rnd.uniform(1, 500), 2) * (-1 if reason is LedgerReason.WITHDRAWAL else 1)
    fee = 1.0 if reason is LedgerReason.WITHDRAWAL else None
    return LedgerEntry(
        ex_ledger_id=f"{tag}-{i}", currency="USDT", amount=amount, reason=reason, time_ms=T0 + i, fee=fee
    )


def entries(ex_ids: list[int], n: int, tag: str) -> list[Envelope]:
    rnd = random.Random(3)
    out: list[Envelope] = []
    for i in range(n):
        envelope = wrap(ex_ids[i % len(ex_ids)], entry(tag, i, rnd), T0 + i)
        out.append(envelope)
        if i % DOUBLED_EVERY == 0:
            out.append(msgspec.structs.replace(envelope, source=Source.REST))
    return out


async def one_run(
    args: argparse.Namespace, redis: aioredis.Redis, factory: async_sessionmaker[AsyncSession]
) -> dict[str, float]:
    tag = uuid.uuid4().hex[:8]
    prefix = f"bench:ledger:{tag}:"
    uid, ex_ids = await setup_accounts(factory, tag, ACCOUNTS)
    figures: dict[str, float] = {}
    try:
        published = entries(ex_ids, args.entries, f"s{tag}")
        await publish(redis, prefix, published)
        sink = OrmSink(factory, KnownAccounts(factory))
        figures["sink entries/s"] = await consume(redis, prefix, GROUP, KINDS, [sink.handle], len(published))
        async with factory() as session:
            stored = await session.scalar(
                select(func.count()).select_from(Ledger).where(Ledger.ex_id.in_(ex_ids))
            )
        assert stored == args.entries, f"{stored} rows for {args.entries} entries"

        async def write_one(envelope: Envelope) -> None:
            assert isinstance(envelope.payload, LedgerEntry)
            record = LedgerRecord.from_contract(
                envelope.payload, ex_id=envelope.ex_id, uid=envelope.uid, exchange=envelope.exchange
            )
            async with factory() as session:
                await LedgerRepository(session).save_entries([record])
                await session.commit()

        figures["one by one entries/s"] = await one_by_one(
            entries(ex_ids, args.baseline, f"b{tag}"), write_one
        )
        figures["ratio"] = figures["sink entries/s"] / figures["one by one entries/s"]
    finally:
        async with factory() as session:
            await session.execute(delete(Ledger).where(Ledger.ex_id.in_(ex_ids)))
            await session.commit()
        await cleanup(factory, redis, prefix, uid, ex_ids)
    return figures


async def main(args: argparse.Namespace) -> None:
    database_url, redis_url = os.environ["DATABASE_URL"], os.environ["REDIS_URL"]
    await upgrade(database_url)
    engine = make_engine(database_url)
    redis = aioredis.Redis.from_url(redis_url)
    runs: list[dict[str, float]] = []
    try:
        for run in range(args.runs):
            start = CpuTimes.now()
            figures = await one_run(args, redis, make_session_factory(engine))
            runs.append(figures)
            shown = ", ".join(f"{name} {value:,.1f}" for name, value in figures.items())
            print(f"run {run + 1}: {shown} ({cpu_since(start)})")
    finally:
        await redis.aclose()
        await engine.dispose()
    for name in runs[0]:
        print(f"{name}: {spread([r[name] for r in runs], ',.1f' if name == 'ratio' else ',.0f')}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--baseline", type=int, default=2_000)
    runs_option(parser)
    asyncio.run(main(parser.parse_args()))
