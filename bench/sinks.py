"""Sink throughput on real Redis and PostgreSQL, against the same writes one event at a time.

    REDIS_URL=redis://127.0.0.1:6379/15 DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1/test \\
        uv run python bench/sinks.py [--trades N] [--long-trades N] [--snapshots N] [--baseline N]
        [--consumers K] [--cache-accounts N] [--runs N] [--profile DIR]

ORM sink: fills of 20 accounts x 5 symbols, published to the trade stream, then consumed by
``--consumers`` sink consumers in this one process (batches of 500) through
``Consumer.run_once``: decode, insert, FIFO PnL, commit, XACK. Baseline:
``TradeRepository.save_trades([one])`` + commit per fill, the shape of a collector writing
straight to the database (PnL included, no bus).
ORM sink, long positions (``--long-trades``, 0 to skip): a symmetric random walk per (account,
symbol) over 2 accounts x 5 symbols that never closes on purpose, so positions stay open over
thousands of fills; consumed in ``LONG_SEGMENTS`` equal parts, the rate of each printed, to show
that it does not fall as the fills behind the open lots accumulate.
Cache sink: complete balance snapshots of ``--cache-accounts`` accounts (1,000), consumed the
same way; a batch folds to one write per account, so fewer accounts means fewer writes, and all
of a batch's writes go to Redis in one script call. Printed apart: snapshots consumed/s, account
documents written/s, and the snapshots folded away (with 100 accounts a batch of 500 writes 100).
Baseline: ``AccountCache.upsert_user_account`` per snapshot (newer snapshots than the sink's, so
that every write lands: one write per snapshot), compared with both.

Sinks are consumed as ``fullon-account sink`` runs them: the consumer reads and decodes
the next batch (and the ORM sink prepares its rows and PnL) while the handler stores the current
one. ``--compare-plain`` also drains the ORM workload, on other accounts, through plain
``Consumer``s (read, handle, then read), in the same run: the gain of reading ahead at the same
load. The long-positions parts use plain consumers.

``--runs`` (default 3) repeats all of it, each run on fresh accounts and streams with its own
baseline, and ends with each figure as ``median (min-max)`` over the runs. Before each run the
bench's tables are vacuumed (``--no-vacuum`` to keep the dead rows of earlier runs, as before) and
their dead rows printed; after it, the CPU left idle and the load average (``machine``): a run
that left no CPU idle shared the machine with other jobs, and its figures say little.

Beside each rate (wall time), the events per CPU second of the bench process over the drain (the
sinks' own cost, which other jobs on a shared machine inflate far less than wall time), and for
the ORM sink the same counting the CPU of the PostgreSQL backends serving the database too (same
host, from ``/proc``). ``--profile DIR`` writes a CPU-time ``cProfile`` of each drain there.

The database is migrated if needed; the bench adds its own user and accounts, and removes them
and their rows at the end. Redis keys live under a per-run stream prefix; the ``accounts`` fields
of the bench accounts are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import redis.asyncio as aioredis
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import samples
from fullon_account_service.bus import Consumer, Handler, Prepare, Publisher
from fullon_account_service.contract import (
    BalanceSnapshot,
    CurrencyBalance,
    Envelope,
    Payload,
    Side,
    TradeFill,
)
from fullon_account_service.ledger.fills import Fill
from fullon_account_service.sinks.accounts import KnownAccounts
from fullon_account_service.sinks.cache_sink import CacheSink
from fullon_account_service.sinks.orm_sink import OrmSink
from fullon_account_service.storage.account_cache import ACCOUNTS_KEY, AccountCache
from fullon_account_service.storage.db import DatabaseContext, make_engine, make_session_factory
from fullon_account_service.storage.db.migrate import upgrade
from fullon_account_service.storage.db.models import Exchange, Trade, TradeBook, User
from fullon_account_service.storage.db.repositories.trades import TradeRepository
from fullon_account_service.storage.latest_wins import Update
from fullon_account_service.storage.versioned_hash import freshness_key, version_key
from machine import CpuTimes, backends_cpu_s, cpu_since, dead_rows, vacuum
from spread import runs_option, spread

T0 = 1_700_000_000_000
SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "BTC/USDT:USDT", "ETH/USDT:USDT")
TRADE_ACCOUNTS = 20
LONG_ACCOUNTS = 2
LONG_SEGMENTS = 6
CACHE_ACCOUNTS = 1_000
BATCH = 500
ROUND_TRIP = 10


def wrap(ex_id: int, payload: Payload, ms: int) -> Envelope:
    return samples.wrap(payload, ms, ex_id=ex_id, uid=1, received_after_ms=5)


def fill(
    tag: str, i: int, order: int, symbol: str, side: Side, volume: float, price: float, ms: int
) -> TradeFill:
    """A USDT-quoted fill paying a 0.1 % fee, ``{tag}-{i}`` of order ``{tag}-o{order}``."""
    return TradeFill(
        ex_trade_id=f"{tag}-{i}",
        ex_order_id=f"{tag}-o{order}",
        symbol=symbol,
        side=side,
        price=price,
        volume=volume,
        cost=price * volume,
        time_ms=ms,
        fee=price * volume * 0.001,
        fee_currency="USDT",
    )


def fills(ex_ids: Sequence[int], n: int, tag: str, start_ms: int = T0) -> list[Envelope]:
    """In time order from ``start_ms``, one per millisecond: the in-order case sinks mostly see.

    Each (account, symbol) trades like a bot: random buys and sells, and about one fill in
    ``ROUND_TRIP`` closes the whole position. The cost of a batch grows with the number of fills
    still open (see RESULTS.md), so a position that never closes is the slow case.
    """
    rnd = random.Random(1)
    position: dict[tuple[int, str], float] = {}
    out = []
    for i in range(n):
        ex_id, symbol = ex_ids[i % len(ex_ids)], SYMBOLS[(i // len(ex_ids)) % len(SYMBOLS)]
        held = position.get((ex_id, symbol), 0.0)
        price = 100 + rnd.random()
        if held and rnd.random() < 1 / ROUND_TRIP:
            side, volume = (Side.SELL if held > 0 else Side.BUY), abs(held)
        else:
            side, volume = rnd.choice((Side.BUY, Side.SELL)), rnd.randint(1, 20) / 10
        position[(ex_id, symbol)] = round(held + (volume if side is Side.BUY else -volume), 9)
        out.append(wrap(ex_id, fill(tag, i, i // 4, symbol, side, volume, price, start_ms + i), start_ms + i))
    return out


def walk_fills(ex_ids: Sequence[int], n: int, tag: str, start_ms: int) -> list[Envelope]:
    """Random buys and sells and no deliberate close: each position wanders away from flat and
    its open FIFO lots span most of its history."""
    rnd = random.Random(2)
    out = []
    for i in range(n):
        ex_id, symbol = ex_ids[i % len(ex_ids)], SYMBOLS[(i // len(ex_ids)) % len(SYMBOLS)]
        side, volume, price = rnd.choice((Side.BUY, Side.SELL)), rnd.randint(1, 20) / 10, 100 + rnd.random()
        out.append(wrap(ex_id, fill(tag, i, i, symbol, side, volume, price, start_ms + i), start_ms + i))
    return out


async def orm_long_positions(
    redis: aioredis.Redis, prefix: str, factory: async_sessionmaker[AsyncSession], envelopes: list[Envelope]
) -> list[float]:
    """Trades/s of each of ``LONG_SEGMENTS`` consecutive parts of ``envelopes``, each drained by a
    plain ``Consumer`` of its own (one reading ahead would take the next part's first batch)."""
    await publish(redis, prefix, envelopes)
    sink = OrmSink(factory, KnownAccounts(factory)).handle
    part = len(envelopes) // LONG_SEGMENTS
    return [
        (await consume(redis, prefix, "orm", ("trade",), [sink], part)).per_s for _ in range(LONG_SEGMENTS)
    ]


def snapshots(ex_ids: Sequence[int], n: int, start_ms: int = T0) -> list[Envelope]:
    """Complete balance snapshots, one per millisecond from ``start_ms``, cycling through the accounts."""
    out = []
    for i in range(n):
        payload = BalanceSnapshot(
            balances={
                "USDT": CurrencyBalance(total=1000.0 + i, free=900.0, used=100.0 + i),
                "BTC": CurrencyBalance(total=1.5, free=1.0, used=0.5),
            }
        )
        out.append(wrap(ex_ids[i % len(ex_ids)], payload, start_ms + i))
    return out


class Rate(NamedTuple):
    per_s: float
    """Events per second of wall time."""
    per_cpu_s: float
    """Events per CPU second of this process (the sink's own cost, whatever else the machine runs)."""
    with_db_per_cpu_s: float | None = None
    """Events per CPU second of this process and the PostgreSQL backends serving it together."""


async def consume(
    redis: aioredis.Redis,
    prefix: str,
    group: str,
    kinds: tuple[str, ...],
    handlers: Sequence[Handler],
    n: int,
    profile: Path | None = None,
    database: AsyncEngine | None = None,
    read_ahead: Sequence[Prepare | None] | None = None,
) -> Rate:
    """Events/s for ``len(handlers)`` consumers draining ``n`` published events; with ``profile``,
    the drain is profiled in CPU time (``cProfile`` on ``time.process_time``) into that file; with
    ``database``, the CPU of its backends over the drain is counted with the sink's. With
    ``read_ahead`` (one prepare hook or None per handler) the consumers read ahead,
    as ``fullon-account sink`` runs them; without, plain ``Consumer``s (read, handle, then read)."""
    options = {"prefix": prefix, "group": group, "kinds": kinds, "batch_size": BATCH, "block_ms": 50}
    consumers = [
        Consumer(
            redis,
            consumer=f"c{i}",
            handler=h,
            read_ahead=read_ahead is not None,
            prepare=read_ahead[i] if read_ahead is not None else None,
            **options,  # type: ignore[arg-type]
        )
        for i, h in enumerate(handlers)
    ]
    for consumer in consumers:
        await consumer.ensure_groups()
    done = 0

    async def drain(consumer: Consumer) -> None:
        nonlocal done
        while done < n:
            handled = await consumer.run_once()  # not ``done += await``: that loses updates
            done += handled

    profiler = cProfile.Profile(time.process_time) if profile else None
    backends = await backends_cpu_s(database) if database else {}
    start, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    await asyncio.gather(*(drain(c) for c in consumers))
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    if not database:
        return Rate(n / wall, n / cpu)
    server = sum(now - backends.get(pid, 0.0) for pid, now in (await backends_cpu_s(database)).items())
    return Rate(n / wall, n / cpu, n / (cpu + server) if server else None)


class CountingCache(AccountCache):
    """AccountCache that counts the account documents a sink writes and the stale ones skipped."""

    written = 0
    stale = 0

    async def apply_snapshots(
        self, balances: Mapping[int, Sequence[Update]], positions: Mapping[int, Sequence[Update]]
    ) -> tuple[dict[int, bool], dict[int, bool]]:
        result = await super().apply_snapshots(balances, positions)
        for outcome in result:
            landed = sum(outcome.values())
            self.written += landed
            self.stale += len(outcome) - landed
        return result


async def one_by_one(items: Sequence[Envelope], write: Callable[[Envelope], Awaitable[None]]) -> Rate:
    start, cpu = time.perf_counter(), time.process_time()
    for envelope in items:
        await write(envelope)
    return Rate(len(items) / (time.perf_counter() - start), len(items) / (time.process_time() - cpu))


async def setup_accounts(
    factory: async_sessionmaker[AsyncSession], tag: str, count: int
) -> tuple[int, list[int]]:
    async with DatabaseContext(factory) as db:
        user = await db.users.add(f"bench-{tag}@example.com")
        ids = [(await db.exchanges.add(user.uid, "bybit", f"bench {tag} {i}")).ex_id for i in range(count)]
        return user.uid, ids


async def cleanup(
    factory: async_sessionmaker[AsyncSession], redis: aioredis.Redis, prefix: str, uid: int, ex_ids: list[int]
) -> None:
    async with factory() as session:
        await session.execute(delete(Trade).where(Trade.ex_id.in_(ex_ids)))
        await session.execute(delete(TradeBook).where(TradeBook.ex_id.in_(ex_ids)))
        await session.execute(delete(Exchange).where(Exchange.uid == uid))
        await session.execute(delete(User).where(User.uid == uid))
        await session.commit()
    fields = [str(i) for i in ex_ids]
    for key in (ACCOUNTS_KEY, version_key(ACCOUNTS_KEY), freshness_key(ACCOUNTS_KEY)):
        await redis.hdel(key, *fields)
    keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
    if keys:
        await redis.delete(*keys)


async def publish(redis: aioredis.Redis, prefix: str, envelopes: list[Envelope]) -> None:
    publisher = Publisher(redis, prefix=prefix)
    for i in range(0, len(envelopes), 2_000):
        await publisher.publish(envelopes[i : i + 2_000])


Figures = dict[str, float]


class InTransaction:
    """Counts the batches the ORM sink planned inside their transaction (not ahead), from
    ``count()`` to the next ``count()``: patched onto ``TradeRepository``, as ``CountingCache``
    counts writes."""

    original = TradeRepository._plan_new

    def __init__(self) -> None:
        self.batches = 0

    @classmethod
    def count(cls) -> InTransaction:
        counter = cls()

        async def counting(repo: TradeRepository, *args: Any) -> Any:
            counter.batches += 1
            return await cls.original(repo, *args)

        TradeRepository._plan_new = counting  # type: ignore[method-assign]
        return counter


async def orm_drain(
    args: argparse.Namespace,
    redis: aioredis.Redis,
    factory: async_sessionmaker[AsyncSession],
    prefix: str,
    ex_ids: Sequence[int],
    tag: str,
    profile: Path | None,
    read_ahead: bool,
) -> Rate:
    """``args.trades`` fills of ``ex_ids`` through ``args.consumers`` ORM sinks."""
    await publish(redis, prefix, fills(ex_ids, args.trades, tag))
    sinks = [OrmSink(factory, KnownAccounts(factory)) for _ in range(args.consumers)]
    handlers = [sink.handle for sink in sinks]
    prepares = [sink.prepare for sink in sinks] if read_ahead else None
    engine = factory.kw["bind"]
    return await consume(
        redis, prefix, "orm", ("order", "trade"), handlers, args.trades, profile, engine, prepares
    )


async def one_run(
    args: argparse.Namespace,
    redis: aioredis.Redis,
    factory: async_sessionmaker[AsyncSession],
    plain_first: bool = False,
) -> Figures:
    """One run on fresh accounts and streams, removed at the end; prints and returns its figures.
    With ``--compare-plain``, ``plain_first`` drains the plain consumers first (runs alternate, so
    that neither mode always pays for starting on a freshly vacuumed table)."""
    tag = uuid.uuid4().hex[:8]
    prefix = f"bench:{tag}:"
    out: Figures = {}
    uid, ex_ids = await setup_accounts(
        factory, tag, max(args.cache_accounts, 2 * TRADE_ACCOUNTS + LONG_ACCOUNTS)
    )
    trade_ids = ex_ids[:TRADE_ACCOUNTS]
    try:
        print(f"ORM sink: {args.trades:,} fills, {args.consumers} consumer(s), batch {BATCH}")
        profile = args.profile and args.profile / f"orm-{tag}.prof"
        plain_ids = ex_ids[TRADE_ACCOUNTS + LONG_ACCOUNTS : 2 * TRADE_ACCOUNTS + LONG_ACCOUNTS]
        drains = [("orm", trade_ids, f"{tag}s", True), ("orm_plain", plain_ids, f"{tag}p", False)]
        if plain_first:
            drains.reverse()
        for key, ids, fill_tag, read_ahead in drains if args.compare_plain else drains[:1]:
            planned = InTransaction.count()
            rate = await orm_drain(
                args, redis, factory, f"{prefix}{key}:", ids, fill_tag, profile, read_ahead
            )
            out[key], out[f"{key}_cpu"] = rate.per_s, rate.per_cpu_s
            if rate.with_db_per_cpu_s:
                out[f"{key}_db_cpu"] = rate.with_db_per_cpu_s
            print(
                f"  {'read-ahead' if read_ahead else 'plain'} consumer: {rate.per_s:,.0f} trades/s; per CPU"
                f" second of the bench process {rate.per_cpu_s:,.0f}, with its database"
                f" {rate.with_db_per_cpu_s or 0.0:,.0f}; batches planned in the transaction:"
                f" {planned.batches} (the rest planned ahead)"
            )

        async def write_trade(envelope: Envelope) -> None:
            assert isinstance(envelope.payload, TradeFill)
            record = Fill.from_contract(envelope.payload, ex_id=envelope.ex_id, uid=uid, exchange="bybit")
            async with factory() as session:
                await TradeRepository(session).save_trades([record])
                await session.commit()

        later = T0 + args.trades
        base = await one_by_one(fills(trade_ids, args.baseline, f"{tag}b", later), write_trade)
        out["orm_base"], out["orm_base_cpu"] = base.per_s, base.per_cpu_s
        out["orm_x"] = out["orm"] / out["orm_base"]
        print(
            f"  sink {out['orm']:,.0f} trades/s; one at a time {out['orm_base']:,.0f} trades/s;"
            f" x{out['orm_x']:.1f}; per CPU second of the bench process: sink {out['orm_cpu']:,.0f},"
            f" one at a time {out['orm_base_cpu']:,.0f}"
        )
        if "orm_db_cpu" in out:
            print(f"  sink trades per CPU second of the sink and its database: {out['orm_db_cpu']:,.0f}")
        if args.long_trades:
            long_ids = ex_ids[TRADE_ACCOUNTS : TRADE_ACCOUNTS + LONG_ACCOUNTS]
            walk = walk_fills(long_ids, args.long_trades, f"{tag}w", T0)
            books = f"{LONG_ACCOUNTS} accounts x {len(SYMBOLS)} symbols"
            print(f"ORM sink, long positions: {args.long_trades:,} fills of {books}")
            rates = await orm_long_positions(redis, f"{prefix}long:", factory, walk)
            out["long_first"], out["long_last"] = rates[0], rates[-1]
            print("  trades/s by part: " + ", ".join(f"{rate:,.0f}" for rate in rates))

        print(f"cache sink: {args.snapshots:,} balance snapshots of {args.cache_accounts:,} accounts")
        await publish(redis, prefix, snapshots(ex_ids[: args.cache_accounts], args.snapshots))
        counting = CountingCache(redis)
        handlers = [CacheSink(counting, KnownAccounts(factory)).handle for _ in range(args.consumers)]
        profile = args.profile and args.profile / f"cache-{tag}.prof"
        cache_rate = await consume(
            redis,
            prefix,
            "cache",
            ("balance", "position"),
            handlers,
            args.snapshots,
            profile,
            read_ahead=[None] * len(handlers),
        )
        out["cache"], out["cache_cpu"] = cache_rate.per_s, cache_rate.per_cpu_s
        out["cache_writes"] = out["cache"] * counting.written / args.snapshots
        folded = args.snapshots - counting.written - counting.stale
        cache = AccountCache(redis)

        async def write_snapshot(envelope: Envelope) -> None:
            assert isinstance(envelope.payload, BalanceSnapshot)
            balances = dict(envelope.payload.balances)
            await cache.upsert_user_account(envelope.ex_id, balances, exchange_ms=envelope.exchange_ms)

        # Newer than everything the sink stored, so each write lands instead of being skipped as stale.
        newer = snapshots(ex_ids[: args.cache_accounts], args.baseline, T0 + args.snapshots)
        cache_base = await one_by_one(newer, write_snapshot)
        out["cache_base"], out["cache_base_cpu"] = cache_base.per_s, cache_base.per_cpu_s
        out["cache_x"] = out["cache"] / out["cache_base"]
        out["cache_writes_x"] = out["cache_writes"] / out["cache_base"]
        print(
            f"  sink {out['cache']:,.0f} snapshots/s consumed, {out['cache_writes']:,.0f} accounts written/s"
            f" ({counting.written:,} written, {folded:,} folded away in batches, {counting.stale:,} stale);"
            f" one at a time {out['cache_base']:,.0f} snapshots (= writes)/s;"
            f" x{out['cache_x']:.1f} consumed, x{out['cache_writes_x']:.1f} written;"
            f" per CPU second of the bench process: sink {out['cache_cpu']:,.0f},"
            f" one at a time {out['cache_base_cpu']:,.0f}"
        )
    finally:
        await cleanup(factory, redis, prefix, uid, ex_ids)
    return out


SUMMARY = (
    ("ORM sink, trades/s", "orm", ",.0f"),
    ("ORM one at a time, trades/s", "orm_base", ",.0f"),
    ("ORM ratio", "orm_x", ".1f"),
    ("ORM sink, trades per CPU second of the bench process", "orm_cpu", ",.0f"),
    (
        "ORM sink, trades per CPU second of the bench process and its database backends",
        "orm_db_cpu",
        ",.0f",
    ),
    ("ORM sink, plain consumer, trades/s", "orm_plain", ",.0f"),
    ("ORM sink, plain consumer, trades per CPU second of the bench process", "orm_plain_cpu", ",.0f"),
    (
        "ORM sink, plain consumer, trades per CPU second of the bench process and its database backends",
        "orm_plain_db_cpu",
        ",.0f",
    ),
    ("ORM long positions, first part, trades/s", "long_first", ",.0f"),
    ("ORM long positions, last part, trades/s", "long_last", ",.0f"),
    ("cache sink, snapshots consumed/s", "cache", ",.0f"),
    ("cache sink, accounts written/s", "cache_writes", ",.0f"),
    ("cache one at a time, snapshots (= writes)/s", "cache_base", ",.0f"),
    ("cache ratio, consumed", "cache_x", ".1f"),
    ("cache ratio, written", "cache_writes_x", ".1f"),
    ("cache sink, snapshots per CPU second of the bench process", "cache_cpu", ",.0f"),
)


async def main(args: argparse.Namespace) -> None:
    redis_url, database_url = os.environ.get("REDIS_URL"), os.environ.get("DATABASE_URL")
    if not redis_url or not database_url:
        raise SystemExit("set REDIS_URL and DATABASE_URL: this bench measures the real services")
    redis = aioredis.Redis.from_url(redis_url)
    await upgrade(database_url)
    engine = make_engine(database_url, pool_size=args.consumers + 2)
    factory = make_session_factory(engine)
    runs: list[Figures] = []
    try:
        for run in range(1, args.runs + 1):
            print(f"run {run}/{args.runs}: {await dead_rows(engine)}", flush=True)
            if not args.no_vacuum:
                await vacuum(engine)
            started = CpuTimes.now()
            runs.append(await one_run(args, redis, factory, plain_first=run % 2 == 0))
            print(f"  during the run: {cpu_since(started)}", flush=True)
    finally:
        await engine.dispose()
        await redis.aclose()
    print(f"\n{len(runs)} runs, median (min-max):")
    for label, key, fmt in SUMMARY:
        if all(key in r for r in runs):
            print(f"  {label}: {spread([r[key] for r in runs], fmt)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trades", type=int, default=100_000)
    parser.add_argument("--long-trades", type=int, default=60_000)
    parser.add_argument("--snapshots", type=int, default=200_000)
    parser.add_argument("--baseline", type=int, default=3_000)
    parser.add_argument("--consumers", type=int, default=1)
    parser.add_argument("--cache-accounts", type=int, default=CACHE_ACCOUNTS)
    parser.add_argument("--no-vacuum", action="store_true", help="keep the last run's dead rows")
    parser.add_argument(
        "--compare-plain",
        action="store_true",
        help="also drain the same workload through plain Consumers (no read-ahead), in the same run",
    )
    parser.add_argument("--profile", type=Path, help="write CPU profiles of the sinks' drains here")
    runs_option(parser)
    asyncio.run(main(parser.parse_args()))
