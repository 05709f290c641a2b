"""``fullon-account dlq``: list, show, replay and drop dead letters, selected by id or by filters.

The command runs in this process (typer's runner, in a thread of its own for its event loop) on a
Redis both it and the test reach: the real one when REDIS_URL is set, else a fakeredis TCP server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from typer.testing import CliRunner, Result

import factories
from factories import NOW_MS
from fullon_account_service.bus import dead_letter, dead_letter_key, dlq_ops, stream_key
from fullon_account_service.cli.app import app
from fullon_account_service.contract import (
    Envelope,
    Payload,
    Side,
    decode,
    encode,
)

PREFIX = "test:account:"


def envelope(payload: Payload, ex_id: int) -> Envelope:
    return factories.envelope(payload, ex_id=ex_id, received_ms=NOW_MS + 100)


TRADE = envelope(
    factories.fill(side=Side.BUY, volume=1.0),
    ex_id=7,
)
ORDER = envelope(
    factories.order("o-2", side=Side.SELL, price=None, volume=None, filled=None),
    ex_id=8,
)
BALANCE = envelope(factories.balance("USD", total=5.0, free=None, used=None), ex_id=7)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
async def letters(redis: aioredis.Redis) -> dict[str, str]:
    """Four letters: three events of the bus, one raw payload a producer could not parse."""
    ids = {}
    for name, env, reason in (
        ("trade", TRADE, "failed 5 deliveries: ValueError: boom"),
        ("order", ORDER, "rejected by handler: events for unknown ex_id [8]"),
        ("balance", BALANCE, "undecodable: event schema version 2.0 is a newer major"),
    ):
        ids[name] = await dead_letter(
            redis,
            prefix=PREFIX,
            reason=reason,
            payload=encode(env),
            stream=stream_key(PREFIX, env.kind),
            entry_id="1700000000000-0",
            group="orm" if name != "balance" else "cache",
            consumer="c1",
        )
    ids["raw"] = await dead_letter(
        redis, prefix=PREFIX, reason="unparseable frame", payload=b"{", stream="kraken:ws"
    )
    return ids


async def cli(redis_url: str, *args: str, answer: str | None = None) -> Result:
    env = {"REDIS_URL": redis_url, "ACCOUNT_STREAM_PREFIX": PREFIX, "LOG_LEVEL": "WARNING", "COLUMNS": "250"}
    return await asyncio.to_thread(CliRunner().invoke, app, ["dlq", *args], env=env, input=answer)


async def listed(redis_url: str, *args: str) -> list[dict[str, Any]]:
    result = await cli(redis_url, "list", "--json", *args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


async def dead_ids(redis: aioredis.Redis) -> list[str]:
    return [raw.decode() for raw, _ in await redis.xrange(dead_letter_key(PREFIX))]


async def test_list_filters_by_reason_kind_ex_id_and_id_range(
    redis_url: str, letters: dict[str, str]
) -> None:
    assert [x["id"] for x in await listed(redis_url)] == list(letters.values())
    assert [x["id"] for x in await listed(redis_url, "--reason", "UNKNOWN EX_ID")] == [letters["order"]]
    assert [x["id"] for x in await listed(redis_url, "--kind", "trade", "--kind", "balance")] == [
        letters["trade"],
        letters["balance"],
    ]
    assert [x["id"] for x in await listed(redis_url, "--ex-id", "7")] == [
        letters["trade"],
        letters["balance"],
    ]
    ranged = await listed(redis_url, "--from", letters["order"], "--to", letters["balance"])
    assert [x["id"] for x in ranged] == [letters["order"], letters["balance"]]
    assert len(await listed(redis_url, "--limit", "2")) == 2
    [raw] = await listed(redis_url, "--reason", "unparseable")
    assert raw["kind"] is None and raw["payload"] == "{" and raw["undecodable"]

    table = await cli(redis_url, "list")
    assert table.exit_code == 0 and "unknown ex_id" in table.stdout


async def test_show_prints_the_original_event(redis_url: str, letters: dict[str, str]) -> None:
    result = await cli(redis_url, "show", "--json", letters["trade"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["envelope"]["event_id"] == TRADE.event_id
    assert shown["reason"] == "failed 5 deliveries: ValueError: boom"
    assert (shown["group"], shown["consumer"], shown["kind"], shown["ex_id"]) == ("orm", "c1", "trade", 7)
    text = await cli(redis_url, "show", letters["order"])
    assert text.exit_code == 0 and "o-2" in text.stdout
    missing = await cli(redis_url, "show", "1-1")
    assert missing.exit_code == 1 and "no dead letter 1-1" in missing.output


async def test_replay_republishes_the_payload_then_removes_the_letter(
    redis: aioredis.Redis, redis_url: str, letters: dict[str, str]
) -> None:
    result = await cli(redis_url, "replay", "--kind", "trade")
    assert result.exit_code == 0, result.output
    [(new_id, fields)] = await redis.xrange(stream_key(PREFIX, "trade"))
    assert fields == {b"e": encode(TRADE)}
    assert decode(fields[b"e"]) == TRADE
    assert f"replayed {letters['trade']} -> {stream_key(PREFIX, 'trade')} {new_id.decode()}" in result.stdout
    assert await dead_ids(redis) == [letters["order"], letters["balance"], letters["raw"]]


async def test_replay_keeps_a_letter_it_could_not_republish(redis_client: aioredis.Redis) -> None:
    """In process: fakeredis' TCP server hangs up on an error reply, which is not the point here."""
    ids = {}
    for env in (ORDER, BALANCE):
        ids[env.kind] = await dead_letter(
            redis_client, prefix=PREFIX, reason="r", payload=encode(env), stream=stream_key(PREFIX, env.kind)
        )
    ids["raw"] = await dead_letter(redis_client, prefix=PREFIX, reason="r", payload=b"{", stream="kraken:ws")
    await redis_client.set(stream_key(PREFIX, "order"), "not a stream")  # XADD to it fails
    letters = await dlq_ops.get_letters(redis_client, PREFIX, list(ids.values()))

    result = await dlq_ops.replay(redis_client, PREFIX, letters, partitions=1)

    assert [letter_id for letter_id, _, _ in result.replayed] == [ids["balance"]]
    skipped = dict(result.skipped)
    assert skipped[ids["order"]].startswith("re-publish failed")
    assert skipped[ids["raw"]].startswith("not from an event stream")
    assert await dead_ids(redis_client) == [ids["order"], ids["raw"]]
    [(_, fields)] = await redis_client.xrange(stream_key(PREFIX, "balance"))
    assert fields == {b"e": encode(BALANCE)}


async def test_replay_and_drop_need_ids_a_filter_or_all(redis_url: str, letters: dict[str, str]) -> None:
    for command in ("replay", "drop"):
        result = await cli(redis_url, command)
        assert result.exit_code == 2 and "--all" in result.output
        result = await cli(redis_url, command, letters["trade"], "--kind", "trade")
        assert result.exit_code == 2 and "not both" in result.output


async def test_drop_asks_first_unless_yes(
    redis: aioredis.Redis, redis_url: str, letters: dict[str, str]
) -> None:
    refused = await cli(redis_url, "drop", "--reason", "unknown ex_id", answer="n\n")
    assert refused.exit_code == 1 and "Drop 1 dead letter(s) for good?" in refused.output
    assert len(await dead_ids(redis)) == 4
    accepted = await cli(redis_url, "drop", "--reason", "unknown ex_id", answer="y\n")
    assert accepted.exit_code == 0 and "dropped 1 letter(s)" in accepted.output
    assert letters["order"] not in await dead_ids(redis)
    everything = await cli(redis_url, "drop", "--all", "--yes")
    assert everything.exit_code == 0 and "dropped 3 letter(s)" in everything.output
    assert await dead_ids(redis) == []


async def test_a_ledger_letter_is_listed_by_kind_and_replayed_to_the_ledger_stream(
    redis: aioredis.Redis, redis_url: str, letters: dict[str, str]
) -> None:
    entry = envelope(factories.ledger_entry("l-9"), ex_id=99)
    letter = await dead_letter(
        redis,
        prefix=PREFIX,
        reason="rejected by handler: events for unknown ex_id [99]",
        payload=encode(entry),
        stream=stream_key(PREFIX, "ledger"),
        entry_id="1700000000001-0",
        group="orm",
        consumer="c1",
    )
    assert [(x["id"], x["kind"], x["ex_id"]) for x in await listed(redis_url, "--kind", "ledger")] == [
        (letter, "ledger", 99)
    ]
    result = await cli(redis_url, "replay", "--kind", "ledger")
    assert result.exit_code == 0, result.output
    [(_, fields)] = await redis.xrange(stream_key(PREFIX, "ledger"))
    assert decode(fields[b"e"]) == entry
    assert letter not in await dead_ids(redis)
