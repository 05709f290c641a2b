"""Dead-lettering: after N failed deliveries, at once for bad bytes, with reason and payload."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from bus_samples import Recorder, sample_envelope

from fullon_account_service.bus import (
    Consumer,
    Publisher,
    dead_letter,
    dead_letter_key,
    stream_key,
    trim_acknowledged,
)
from fullon_account_service.contract import encode
from fullon_account_service.errors import ContractError, TransientError
from fullon_account_service.redaction import register_secret
from fullon_account_service.settings import Settings

MAX = 3


def sink(redis: aioredis.Redis, settings: Settings, handler: Recorder) -> Consumer:
    return Consumer(
        redis,
        prefix=settings.stream_prefix,
        group="sink",
        consumer="c1",
        kinds=["trade"],
        handler=handler,
        block_ms=20,
        claim_idle_ms=50,
        max_deliveries=MAX,
    )


async def dead_letters(redis: aioredis.Redis, prefix: str) -> list[dict[bytes, bytes]]:
    return [fields for _, fields in await redis.xrange(dead_letter_key(prefix))]


async def trade_pending(redis: aioredis.Redis, prefix: str) -> int:
    summary = await redis.xpending(stream_key(prefix, "trade"), "sink")
    return int(summary["pending"])


async def test_dead_lettered_after_max_deliveries(redis_client: aioredis.Redis, settings: Settings) -> None:
    prefix = settings.stream_prefix
    envelopes = [sample_envelope(i) for i in range(5)]
    poison = envelopes[2]
    handler = Recorder(fail_ids=[poison.event_id], error=ValueError("cannot store this one"))
    consumer = sink(redis_client, settings, handler)
    await consumer.ensure_groups()
    ids = await Publisher(redis_client, prefix=prefix).publish(envelopes)

    async with asyncio.timeout(60):
        while not await dead_letters(redis_client, prefix):
            await consumer.run_once()

    assert handler.handled == {e.event_id: 1 for e in envelopes if e is not poison}
    assert handler.attempts[poison.event_id] == MAX + 1  # the failed batch, then MAX one by one
    [letter] = await dead_letters(redis_client, prefix)
    assert letter[b"payload"] == encode(poison)
    assert b"failed 3 deliveries" in letter[b"reason"]
    assert b"ValueError: cannot store this one" in letter[b"reason"]
    assert letter[b"stream"] == stream_key(prefix, "trade").encode()
    assert letter[b"entry_id"] == ids[2].encode()
    assert (letter[b"group"], letter[b"consumer"]) == (b"sink", b"c1")
    assert await trade_pending(redis_client, prefix) == 0


@pytest.mark.parametrize("garbage", [{b"e": b"\xc1 not msgpack"}, {b"other": b"x"}])
async def test_undecodable_entry_dead_lettered_at_once(
    redis_client: aioredis.Redis, settings: Settings, garbage: dict[bytes, bytes]
) -> None:
    prefix = settings.stream_prefix
    handler = Recorder()
    consumer = sink(redis_client, settings, handler)
    await consumer.ensure_groups()
    good = sample_envelope(1)
    bad_id = await redis_client.xadd(stream_key(prefix, "trade"), garbage)
    await Publisher(redis_client, prefix=prefix).publish([good])

    assert await consumer.run_once() == 2
    assert handler.handled == {good.event_id: 1}
    [letter] = await dead_letters(redis_client, prefix)
    assert letter[b"reason"].startswith(b"undecodable: ")
    assert letter[b"entry_id"] == bad_id
    assert letter[b"payload"] == garbage.get(b"e", b"")
    assert await trade_pending(redis_client, prefix) == 0


async def test_handler_contract_error_dead_letters_without_retry(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    prefix = settings.stream_prefix
    bad = sample_envelope(1)
    handler = Recorder(fail_ids=[bad.event_id], error=ContractError("volume exceeds order"))
    consumer = sink(redis_client, settings, handler)
    await consumer.ensure_groups()
    await Publisher(redis_client, prefix=prefix).publish([sample_envelope(0), bad])
    assert await consumer.run_once() == 2
    [letter] = await dead_letters(redis_client, prefix)
    assert letter[b"reason"] == b"rejected by handler: volume exceeds order"
    assert handler.attempts[bad.event_id] == 2  # in the batch, then alone
    assert await trade_pending(redis_client, prefix) == 0


async def test_transient_handler_failure_never_dead_letters(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    prefix = settings.stream_prefix
    envelope = sample_envelope(1)
    handler = Recorder(fail_ids=[envelope.event_id], error=TransientError("database down"))
    consumer = sink(redis_client, settings, handler)
    await consumer.ensure_groups()
    await Publisher(redis_client, prefix=prefix).publish([envelope])
    for _ in range(MAX + 2):
        with pytest.raises(TransientError):
            async with asyncio.timeout(60):
                while True:
                    await consumer.run_once()
        await asyncio.sleep(0.06)
    assert handler.attempts[envelope.event_id] == MAX + 2
    assert await dead_letters(redis_client, prefix) == []
    assert await trade_pending(redis_client, prefix) == 1

    handler.fail_ids.clear()  # the database is back
    async with asyncio.timeout(60):
        while not handler.handled:
            await consumer.run_once()
    assert await trade_pending(redis_client, prefix) == 0


async def test_dead_letter_reason_is_redacted(redis_client: aioredis.Redis, settings: Settings) -> None:
    secret = "sk-live-0123456789abcdef"
    register_secret(secret)
    entry_id = await dead_letter(
        redis_client,
        prefix=settings.stream_prefix,
        reason=f"venue said: bad key {secret}",
        payload=b'{"raw": "exchange payload"}',
        stream="kraken:ws",
    )
    [(got_id, letter)] = await redis_client.xrange(dead_letter_key(settings.stream_prefix))
    assert got_id.decode() == entry_id
    assert letter[b"reason"] == b"venue said: bad key ***"
    assert letter[b"payload"] == b'{"raw": "exchange payload"}'
    assert letter[b"stream"] == b"kraken:ws"


async def test_dead_letter_stream_is_never_capped_or_trimmed(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    """Letters leave only by ``dlq replay`` or ``dlq drop``: past the old 100,000 cap, none goes."""
    prefix = settings.stream_prefix
    key = dead_letter_key(prefix)
    already = 100_200
    for start in range(0, already, 10_000):
        pipe = redis_client.pipeline(transaction=False)
        for i in range(start, min(start + 10_000, already)):
            pipe.xadd(key, {b"reason": b"old", b"payload": str(i).encode()})
        await pipe.execute()
    await dead_letter(redis_client, prefix=prefix, reason="one more", payload=b"x")
    poison = sample_envelope(1)
    handler = Recorder(fail_ids=[poison.event_id], error=ContractError("bad"))
    consumer = sink(redis_client, settings, handler)
    await consumer.ensure_groups()
    await Publisher(redis_client, prefix=prefix).publish([poison])
    assert await consumer.run_once() == 1
    await consumer.trim()
    await trim_acknowledged(redis_client, key)
    assert await redis_client.xlen(key) == already + 2
    [(_, first)] = await redis_client.xrange(key, count=1)
    assert first[b"payload"] == b"0"
