"""A store that refuses every write stops the sink and says why; it never drains the stream into
the dead letters. Repaired with ``db upgrade``, the sink goes on and stores every event once."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
from collections.abc import Awaitable, Callable, Sequence

import redis.asyncio as aioredis
from sqlalchemy import func, select, text

from consumers import trade_consumer
from fullon_account_service.bus import Consumer, Delivery, Publisher
from fullon_account_service.bus.batch import Handler
from fullon_account_service.bus.streams import dead_letter_key, stream_key
from fullon_account_service.contract import OrderStatus, OrderUpdate, Side
from fullon_account_service.errors import StorageUnavailable
from fullon_account_service.health import HealthReport, collect_health
from fullon_account_service.settings import Settings
from fullon_account_service.sinks.runner import run_sink
from fullon_account_service.storage.db.migrate import upgrade
from fullon_account_service.storage.db.models import Order, Trade
from sink_samples import Db, envelope, random_fills

SYMBOLS = ("BTC/USDT", "ETH/USD:USD")
DEADLINE_S = 60


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    try:
        async with asyncio.timeout(DEADLINE_S):
            while not await check():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def stored(db: Db) -> tuple[int, int, int]:
    """(trade rows, distinct trades, order rows)."""
    async with db.factory() as session:
        rows = await session.scalar(select(func.count()).select_from(Trade))
        distinct = await session.scalar(select(func.count(func.distinct(Trade.ex_trade_id))))
        orders = await session.scalar(select(func.count()).select_from(Order))
    return int(rows or 0), int(distinct or 0), int(orders or 0)


def orders(prefix: str, n: int) -> list[OrderUpdate]:
    return [
        OrderUpdate(
            ex_order_id=f"{prefix}o{i}",
            symbol="BTC/USDT",
            side=Side.BUY,
            order_type="limit",
            status=OrderStatus.OPEN,
            volume=1.0,
            filled=0.0,
        )
        for i in range(n)
    ]


async def delivery_counts(redis: aioredis.Redis, group: str) -> list[int]:
    counts: list[int] = []
    for kind in ("order", "trade"):
        pending = await redis.xpending_range(stream_key("test:account:", kind), group, "-", "+", 10_000)
        counts += [int(p["times_delivered"]) for p in pending]
    return counts


async def test_dropped_trades_table_stops_the_sink_without_dead_letters_until_repaired(
    db: Db, redis_client: aioredis.Redis, settings: Settings
) -> None:
    settings = dataclasses.replace(settings, max_deliveries=2, batch_size=7)
    prefix = settings.stream_prefix
    publisher = Publisher(redis_client, prefix=prefix)
    stop = asyncio.Event()
    sink = asyncio.create_task(
        run_sink(settings, "orm", "orm-1", redis_client, stop, session_factory=db.factory), name="orm-sink"
    )
    try:
        before = random_fills(random.Random(3), 12, prefix="a", symbols=SYMBOLS)
        await publisher.publish([envelope(p) for p in [*before, *orders("a", 3)]])
        await eventually(lambda: _equals(stored(db), (12, 12, 3)), "the first events to be stored")

        async with db.factory() as session:
            await session.execute(text("DROP TABLE trades"))
            await session.commit()
        after = random_fills(random.Random(4), 30, prefix="b", symbols=SYMBOLS)
        await publisher.publish([envelope(p) for p in [*after, *orders("b", 5)]])

        report = HealthReport()

        async def sink_reports_why() -> bool:
            nonlocal report
            report = await collect_health(redis_client, prefix)
            return any(
                "sink group orm" in p and "trades" in p and "StorageUnavailable" in p for p in report.problems
            )

        await eventually(sink_reports_why, "health to say why the orm sink stopped")
        assert not report.healthy
        assert report.sink_errors[0]["group"] == "orm"
        # It goes on waiting well past the claim timeout, and burns no deliveries meanwhile.
        since_ms = int(report.sink_errors[0]["since_ms"])

        async def waited_long() -> bool:
            records = (await collect_health(redis_client, prefix)).sink_errors
            return bool(records) and int(records[0]["updated_ms"]) - since_ms > 10 * settings.claim_idle_ms

        await eventually(waited_long, "the sink to wait through several claim timeouts")
        assert await redis_client.xlen(dead_letter_key(prefix)) == 0
        assert set(await delivery_counts(redis_client, "orm")) == {1}
        assert not sink.done()

        assert await upgrade(db.url) == ["trades"]
        await eventually(lambda: _equals(stored(db), (30, 30, 8)), "every event after the repair")

        async def recovered() -> bool:
            report = await collect_health(redis_client, prefix)
            return not report.sink_errors and not await delivery_counts(redis_client, "orm")

        await eventually(recovered, "the sink to report it consumes again")
        assert await redis_client.xlen(dead_letter_key(prefix)) == 0
    finally:
        stop.set()
        async with asyncio.timeout(DEADLINE_S):
            await sink
    async with db.factory() as session:
        names = set((await session.scalars(select(Trade.ex_trade_id))).all())
    assert names == {f.ex_trade_id for f in after}


def holding_consumer(redis: aioredis.Redis, prefix: str, handler: Handler) -> Consumer:
    """Quick to reclaim and to give an entry up: two deliveries make poison."""
    return trade_consumer(redis, prefix, handler, block_ms=20, claim_idle_ms=50, max_deliveries=2)


async def _equals(value: Awaitable[tuple[int, int, int]], expected: tuple[int, int, int]) -> bool:
    return await value == expected


async def test_a_batch_failing_alike_with_nothing_stored_is_held_not_dead_lettered(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    """An error nobody classified, hitting every entry of a batch: none of them is poison."""
    prefix = settings.stream_prefix
    broken = True
    stored_ids: list[str] = []

    async def handler(batch: Sequence[Delivery]) -> None:
        if broken:
            raise RuntimeError("disk quota exceeded")
        stored_ids.extend(d.envelope.event_id for d in batch)

    consumer = holding_consumer(redis_client, prefix, handler)
    await consumer.ensure_groups()
    fills = random_fills(random.Random(5), 6, prefix="c", symbols=SYMBOLS)
    await Publisher(redis_client, prefix=prefix).publish([envelope(f) for f in fills])
    try:
        await consumer.run_once()
    except StorageUnavailable as e:
        assert "all 6 entries tried failed alike and none was stored: RuntimeError" in str(e)
    else:
        raise AssertionError("a failure hitting every entry was not taken for one")
    assert consumer.holding == 6
    for _ in range(3):  # held, the entries are retried without a new delivery
        with contextlib.suppress(StorageUnavailable):
            await consumer.run_once()
    assert consumer.holding == 6
    broken = False
    assert await consumer.run_once() == 6
    assert consumer.holding == 0
    assert sorted(stored_ids) == sorted(envelope(f).event_id for f in fills)
    assert await redis_client.xlen(dead_letter_key(prefix)) == 0


async def test_poison_arriving_together_is_told_apart_once_a_neighbour_is_stored(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    """Three poison entries alone look like a broken store; held, they share the next batch with
    new entries, and once those are stored they are counted and dead-lettered as poison."""
    prefix = settings.stream_prefix
    fills = random_fills(random.Random(6), 5, prefix="d", symbols=SYMBOLS)
    poison = {envelope(f).event_id for f in fills[:3]}
    stored_ids: list[str] = []

    async def handler(batch: Sequence[Delivery]) -> None:
        if any(d.envelope.event_id in poison for d in batch):
            raise ValueError("cannot store this fill")
        stored_ids.extend(d.envelope.event_id for d in batch)

    consumer = holding_consumer(redis_client, prefix, handler)
    await consumer.ensure_groups()
    publisher = Publisher(redis_client, prefix=prefix)
    await publisher.publish([envelope(f) for f in fills[:3]])
    with contextlib.suppress(StorageUnavailable):
        await consumer.run_once()
    assert consumer.holding == 3
    await publisher.publish([envelope(f) for f in fills[3:]])
    assert await consumer.run_once() == 2  # the new ones stored; the held ones now poison, pending
    assert consumer.holding == 0
    async with asyncio.timeout(DEADLINE_S):
        while await redis_client.xlen(dead_letter_key(prefix)) < 3:
            await consumer.run_once()
    assert sorted(stored_ids) == sorted(envelope(f).event_id for f in fills[3:])
    letters = [fields[b"reason"] for _, fields in await redis_client.xrange(dead_letter_key(prefix))]
    assert all(reason.startswith(b"failed 2 deliveries: ValueError") for reason in letters)
