"""With ``ACCOUNT_STREAM_PARTITIONS`` = 3, balance explained reads the partition that holds the
account's fills and ledger entries: a window is judged once the ``orm`` group stored that
partition through the cursor, and held back while an entry of it is undelivered or pending.
Another partition's backlog (another account's) holds nothing back. The entries are published by
the producers' own ``Publisher``, so the test reads the stream the producers write."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stored_history import S, Stored, store_history

from factories import NOW_MS, envelope, fill, ledger_entry
from fullon_account_service.bus import Publisher
from fullon_account_service.bus.streams import account_stream_key
from fullon_account_service.settings import Settings
from fullon_account_service.sinks.orm_sink import GROUP

PARTITIONS = 3
CURSOR_MS = NOW_MS + 100 * S


@pytest.fixture
async def stored(
    session_factory: async_sessionmaker[AsyncSession],
    database_url: str,
    redis_client: aioredis.Redis,
    settings: Settings,
) -> Stored:
    stored = await store_history(session_factory, database_url, redis_client, settings.stream_prefix)
    for ex_id in (stored.ex_id, stored.ex_id + 1):
        for kind in ("trade", "ledger"):
            stream = account_stream_key(stored.prefix, kind, ex_id, PARTITIONS)
            await redis_client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    return stored


async def _publish(stored: Stored, kind: str, ex_id: int) -> str:
    """One event of ``kind`` for ``ex_id`` as a producer publishes it; the stream it went to."""
    fact = fill("late-1") if kind == "trade" else ledger_entry("late-1")
    publisher = Publisher(stored.redis, prefix=stored.prefix, partitions=PARTITIONS)
    await publisher.publish([envelope(fact, ex_id=ex_id, exchange="bybit")])
    stream = publisher.key(kind, ex_id)
    assert stream == account_stream_key(stored.prefix, kind, ex_id, PARTITIONS)
    assert stream != f"{stored.prefix}{kind}"
    return stream


async def _deliver(stored: Stored, stream: str) -> bytes:
    [(_, [(entry_id, _)])] = await stored.redis.xreadgroup(GROUP, "orm-1", {stream: ">"})
    return bytes(entry_id)


async def test_windows_are_judged_once_the_accounts_partition_is_stored(stored: Stored) -> None:
    assert await stored.through(PARTITIONS) == CURSOR_MS
    account = await stored.explain(PARTITIONS)
    assert (len(account.windows), account.waiting, account.unexplained) == (4, 0, [])


@pytest.mark.parametrize("kind", ["trade", "ledger"])
async def test_an_entry_of_the_accounts_partition_holds_the_windows_back_until_stored(
    stored: Stored, kind: str
) -> None:
    stream = await _publish(stored, kind, stored.ex_id)
    assert await stored.through(PARTITIONS) is None  # undelivered
    account = await stored.explain(PARTITIONS)
    assert (account.windows, account.waiting, account.stored_through_ms) == ([], 4, None)

    entry_id = await _deliver(stored, stream)
    assert await stored.through(PARTITIONS) is None  # delivered, not acknowledged: pending
    assert (await stored.explain(PARTITIONS)).waiting == 4

    await stored.redis.xack(stream, GROUP, entry_id)
    assert await stored.through(PARTITIONS) == CURSOR_MS
    assert len((await stored.explain(PARTITIONS)).windows) == 4


async def test_another_partitions_backlog_holds_nothing_back(stored: Stored) -> None:
    other = await _publish(stored, "trade", stored.ex_id + 1)
    assert other != account_stream_key(stored.prefix, "trade", stored.ex_id, PARTITIONS)
    assert await stored.through(PARTITIONS) == CURSOR_MS
    assert len((await stored.explain(PARTITIONS)).windows) == 4
