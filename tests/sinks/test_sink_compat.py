"""A producer upgraded before its sinks: events of a newer minor schema (fields added at every
level) are stored by today's sinks; events of a newer major are dead-lettered with the reason."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import redis.asyncio as aioredis
from sqlalchemy import select

import factories
from fullon_account_service.bus import Consumer, Handler, stream_key
from fullon_account_service.bus.streams import ENTRY_FIELD, dead_letter_key
from fullon_account_service.contract import (
    Envelope,
    OrderStatus,
    Side,
)
from fullon_account_service.settings import Settings
from fullon_account_service.sinks.accounts import KnownAccounts
from fullon_account_service.sinks.cache_sink import CacheSink
from fullon_account_service.sinks.orm_sink import OrmSink
from fullon_account_service.storage.account_cache import AccountCache
from fullon_account_service.storage.db.models import Order, Trade
from sink_samples import Db, envelope

MINOR = 1001  # schema 1.1
MAJOR = 2000  # schema 2.0

FILL = factories.fill("t-new", ex_order_id="o-new", side=Side.BUY, volume=2.0)
ORDER = factories.order("o-new", status=OrderStatus.CLOSED, price=None, volume=2.0, filled=2.0)
BALANCE = factories.balance(total=10.0, free=8.0, used=2.0)
POSITION = factories.position(volume=3.0)


def newer(original: Envelope, v: int) -> bytes:
    """Bytes as a newer producer writes them, built by hand: extra keys in the envelope, in the
    payload and in nested structs, and its own schema version."""
    data: dict[str, Any] = msgspec.to_builtins(original)
    data["v"] = v
    data["producer_build"] = "2.7.0"
    data["payload"]["sequence"] = 12345
    for balance in data["payload"].get("balances", {}).values():
        balance["borrowed"] = 1.5
    for position in data["payload"].get("positions", []):
        position["adl_rank"] = 2
    return msgspec.msgpack.encode(data)


async def consume(
    redis: aioredis.Redis, settings: Settings, group: str, kinds: tuple[str, ...], handler: Handler
) -> None:
    consumer = Consumer(
        redis,
        prefix=settings.stream_prefix,
        group=group,
        consumer="c1",
        kinds=kinds,
        handler=handler,
        block_ms=10,
    )
    await consumer.ensure_groups()
    while await consumer.run_once():
        pass


async def test_a_newer_minor_producer_is_stored_by_todays_sinks(
    db: Db, redis_client: aioredis.Redis, settings: Settings
) -> None:
    prefix = settings.stream_prefix
    for payload in (FILL, ORDER, BALANCE, POSITION):
        original = envelope(payload, ex_id=1)
        await redis_client.xadd(stream_key(prefix, original.kind), {ENTRY_FIELD: newer(original, MINOR)})

    await consume(
        redis_client,
        settings,
        "orm",
        ("order", "trade"),
        OrmSink(db.factory, KnownAccounts(db.factory)).handle,
    )
    cache_sink = CacheSink(AccountCache(redis_client), KnownAccounts(db.factory))
    await consume(redis_client, settings, "cache", ("balance", "position"), cache_sink.handle)

    assert await redis_client.xlen(dead_letter_key(prefix)) == 0
    async with db.factory() as session:
        [trade] = (await session.scalars(select(Trade))).all()
        [order] = (await session.scalars(select(Order))).all()
    assert (trade.ex_trade_id, trade.volume, trade.price) == ("t-new", 2.0, 100.0)
    assert (order.ex_order_id, order.status) == ("o-new", "closed")
    account = json.loads(await redis_client.hget("accounts", "1") or b"{}")
    assert account["USDT"]["total"] == 10.0 and "borrowed" not in account["USDT"]
    positions = json.loads(await redis_client.hget("account_positions", "1") or b"{}")
    assert positions["BTC/USDT:USDT"]["volume"] == 3.0


async def test_a_newer_major_is_dead_lettered_with_the_reason(
    db: Db, redis_client: aioredis.Redis, settings: Settings
) -> None:
    prefix = settings.stream_prefix
    await redis_client.xadd(stream_key(prefix, "trade"), {ENTRY_FIELD: newer(envelope(FILL, ex_id=1), MAJOR)})

    await consume(
        redis_client,
        settings,
        "orm",
        ("order", "trade"),
        OrmSink(db.factory, KnownAccounts(db.factory)).handle,
    )

    [(_, letter)] = await redis_client.xrange(dead_letter_key(prefix))
    reason = letter[b"reason"].decode()
    assert "event schema version 2.0 (v=2000) is a newer major than this consumer's 1.0" in reason
    assert "upgrade the sinks" in reason
    async with db.factory() as session:
        assert (await session.scalars(select(Trade))).all() == []
