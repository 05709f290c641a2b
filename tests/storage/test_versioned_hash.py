"""The batch write script: codes per entry, both hashes in one call, batches larger than a call."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.crc import key_slot

from fullon_account_service.storage.versioned_hash import (
    CHUNK,
    CONFLICT,
    STALE,
    WRITTEN,
    BatchWriter,
    Stored,
    VersionedHash,
    Write,
    freshness_key,
    version_key,
)

NOW = 1_700_000_000.25


def writer(redis: aioredis.Redis) -> BatchWriter:
    hashes = (VersionedHash(redis, "docs"), VersionedHash(redis, "other"))
    return BatchWriter(redis, hashes, clock=lambda: NOW)


async def test_a_batch_larger_than_one_call_is_written_whole(redis_client: aioredis.Redis) -> None:
    count = CHUNK + 700
    codes = await writer(redis_client).write(
        [[Write(i, b'{"n":%d}' % i, 1_000 + i) for i in range(count)], [Write(1, b'{"o":1}', 5)]]
    )
    assert codes == [dict.fromkeys(range(count), WRITTEN), {1: WRITTEN}]
    assert await redis_client.hlen("docs") == count
    assert await redis_client.hget("docs", str(count - 1)) == b'{"n":%d}' % (count - 1)
    assert await redis_client.hget(VersionedHash(redis_client, "docs").keys[1], "17") == b"1017"
    assert float(await redis_client.hget(VersionedHash(redis_client, "docs").keys[2], "17")) == NOW
    assert await redis_client.hget("other", "1") == b'{"o":1}'


async def test_stale_conflicting_and_compare_and_set_entries(redis_client: aioredis.Redis) -> None:
    batch = writer(redis_client)
    await batch.write([[Write(i, b'{"v":0}', 100) for i in range(1, 8)], []])
    stored = (await batch.read([[5, 6, 9], []]))[0]
    assert stored[5] == Stored(b'{"v":0}', b"100") and stored[9] == Stored(None, None)
    codes = await batch.write(
        [
            [
                Write(1, b'{"v":1}', 99),  # older than stored
                Write(2, b'{"v":2}', 150, base=90),  # built on a complete snapshot older than stored
                Write(3, b'{"v":3}', 100),  # a replay of the stored time
                Write(4, None, 120),  # deletes the field
                Write(5, b'{"v":5}', 130, expect=stored[5]),
                Write(6, b'{"v":6}', 130, expect=Stored(b'{"v":"other"}', b"100")),
                Write(7, b'{"v":7}', None),  # unversioned: always written, time kept
                Write(9, b'{"v":9}', 10, expect=stored[9]),
            ],
            [],
        ]
    )
    assert codes[0] == {
        1: STALE,
        2: CONFLICT,
        3: WRITTEN,
        4: WRITTEN,
        5: WRITTEN,
        6: CONFLICT,
        7: WRITTEN,
        9: WRITTEN,
    }
    raw = await redis_client.hgetall("docs")
    assert raw == {
        b"1": b'{"v":0}',
        b"2": b'{"v":0}',
        b"3": b'{"v":3}',
        b"5": b'{"v":5}',
        b"6": b'{"v":0}',
        b"7": b'{"v":7}',
        b"9": b'{"v":9}',
    }
    versions = await redis_client.hgetall(VersionedHash(redis_client, "docs").keys[1])
    assert versions[b"4"] == b"120" and versions[b"5"] == b"130" and versions[b"7"] == b"100"
    assert versions[b"9"] == b"10" and versions[b"2"] == b"100"
    # A compare-and-set expecting an absent field fails once it exists.
    codes = await batch.write([[Write(9, b'{"v":"late"}', 20, expect=Stored(None, None))], []])
    assert codes[0] == {9: CONFLICT}


def test_side_hashes_keep_their_names_on_one_node_and_share_the_slot_on_a_cluster() -> None:
    assert (version_key("accounts"), freshness_key("accounts")) == (
        "accounts:exchange_ms",
        "accounts:freshness",
    )
    clustered = (version_key("accounts", clustered=True), freshness_key("accounts", clustered=True))
    assert clustered == ("{accounts}:exchange_ms", "{accounts}:freshness")
    assert {key_slot(k.encode()) for k in clustered} == {key_slot(b"accounts")}
