"""The seed's shape, for comparison: one process writing each event to the cache and the database
as it arrives, with no bus batching.

It replays the events the pipeline carried in the same run, in bus order, one at a time through
the sinks' own handlers (a batch of one: one cache script call, or one transaction with its FIFO
PnL), after removing what the pipeline stored for those accounts, so that every write lands as it
did the first time instead of being skipped as a duplicate or a stale snapshot.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import redis.asyncio as aioredis
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fullon_account_service.bus import Delivery
from fullon_account_service.bus.consumer import Handler
from fullon_account_service.contract import decode
from fullon_account_service.settings import Settings
from fullon_account_service.sinks.runner import build_handler
from fullon_account_service.storage.account_cache import ACCOUNTS_KEY, POSITIONS_KEY
from fullon_account_service.storage.db.models import Ledger, Order, Trade, TradeBook
from fullon_account_service.storage.versioned_hash import freshness_key, version_key

CACHE_KINDS = frozenset({"balance", "position"})


async def forget_stored(
    factory: async_sessionmaker[AsyncSession], redis: aioredis.Redis, ex_ids: Sequence[int]
) -> None:
    """Remove the orders, trades, PnL books, ledger entries and cache documents of ``ex_ids``.

    Ledger entries too: the simulator draws its ids from the seed, so a later run with the same
    seed on the same database would otherwise find its ids taken by another run's entries (the
    sink keeps the first and logs the conflict)."""
    async with factory() as session:
        for model in (Trade, TradeBook, Order, Ledger):
            await session.execute(delete(model).where(model.ex_id.in_(ex_ids)))
        await session.commit()
    fields = [str(i) for i in ex_ids]
    if fields:
        for base in (ACCOUNTS_KEY, POSITIONS_KEY):
            for key in (base, version_key(base), freshness_key(base)):
                await redis.hdel(key, *fields)


async def one_at_a_time(
    factory: async_sessionmaker[AsyncSession],
    redis: aioredis.Redis,
    raw: Sequence[tuple[tuple[int, int], str, bytes]],
) -> float:
    """Events per second, each stored on its own as it comes."""
    handlers: dict[str, Handler] = {
        group: build_handler(group, redis, factory, prefix=Settings.from_env().stream_prefix)
        for group in ("cache", "orm")
    }
    entries = sorted(raw)
    deliveries = [Delivery(stream, f"{ms}-{seq}", decode(data), 1) for (ms, seq), stream, data in entries]
    start = time.perf_counter()
    for delivery in deliveries:
        group = "cache" if delivery.envelope.kind in CACHE_KINDS else "orm"
        await handlers[group]([delivery])
    return len(deliveries) / (time.perf_counter() - start)
