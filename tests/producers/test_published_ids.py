"""Rows already on the bus are not sent again by a re-read, even after the id memory forgot them;
a row that was never sent always goes out.

An audit on a busy account re-reads the rows the stream sent, paged and split its own way (newest
first, a category at a time, a page boundary anywhere). Each verdict is checked both ways: the
rows sent are dropped however the re-read splits them, and a row the stream never sent (or whose
publish failed, or sent before the bus was lost, or older than the cursor) goes out.
"""

from __future__ import annotations

import pytest

import factories
from fullon_account_service.contract import Envelope, Side, Source, TradeFill
from fullon_account_service.producers.published_ids import CHUNK, MAX_HASHES, PublishedIds

T = 1_800_000_000_000
SECOND = 1_000


def fill(n: int, at_ms: int) -> Envelope:
    payload = factories.fill(
        f"T{n}", ex_order_id="O1", symbol="BTC/USD", side=Side.BUY, volume=1.0, time_ms=at_ms
    )
    return factories.envelope(payload, ex_id=1, exchange="bybit", source=Source.REST, exchange_ms=at_ms)


async def _sent(ids: PublishedIds, rows: list[Envelope]) -> list[str]:
    out: list[Envelope] = []

    async def send(fresh: list[Envelope]) -> None:
        out.extend(fresh)

    await ids.publish(rows, send)
    return [e.payload.ex_trade_id for e in out if isinstance(e.payload, TradeFill)]


def _rows(count: int, per_second: int = 4) -> list[Envelope]:
    """``count`` fills, ``per_second`` in each second of exchange time."""
    return [fill(n, T + (n // per_second) * SECOND + n % per_second) for n in range(count)]


async def test_a_reread_sends_nothing_the_stream_sent() -> None:
    ids = PublishedIds()
    rows = _rows(100)
    for n in range(0, 100, 5):  # the stream, a few fills at a time
        assert len(await _sent(ids, rows[n : n + 5])) == 5
    assert len(ids) == 100
    assert await _sent(ids, rows) == [], "the audit's re-read of the same rows"
    assert await _sent(ids, list(reversed(rows))) == [], "newest first, as Bybit pages"


async def test_a_reread_split_its_own_way_sends_nothing_the_stream_sent() -> None:
    ids = PublishedIds()
    rows = _rows(100)
    for n in range(0, 100, 5):
        await _sent(ids, rows[n : n + 5])
    assert await _sent(ids, rows[::2]) == [], "one category of each second (Bybit reads them apart)"
    assert await _sent(ids, rows[1::2]) == [], "then the other"
    assert await _sent(ids, rows[3:50]) == [], "a page that starts and ends inside a second"


async def test_a_row_stamped_at_another_time_by_rest_is_still_known() -> None:
    ids = PublishedIds()
    streamed = _rows(3)
    await _sent(ids, streamed)
    restamped = [fill(n, T + 7 * SECOND) for n in range(3)]
    assert await _sent(ids, restamped) == []


async def test_a_row_the_stream_never_sent_goes_out_alone() -> None:
    ids = PublishedIds()
    rows = _rows(100)
    missed = rows.pop(41)
    for n in range(0, 99, 3):
        await _sent(ids, rows[n : n + 3])
    listed = [*rows[:41], missed, *rows[41:]]
    assert await _sent(ids, listed) == ["T41"]
    assert await _sent(ids, listed) == [], "known now"


async def test_rows_whose_publish_failed_are_sent_by_the_next_read() -> None:
    ids = PublishedIds()
    rows = _rows(8)

    async def fail(fresh: list[Envelope]) -> None:
        raise ConnectionError("bus down")

    with pytest.raises(ConnectionError):
        await ids.publish(rows, fail)
    assert len(await _sent(ids, rows)) == 8


async def test_a_failed_publish_of_whole_chunks_leaves_no_empty_chunk() -> None:
    """Chunks emptied by a failed publish go: an empty one would be searched by every lookup and
    kept until the cursor passed the time of rows it no longer holds."""
    ids = PublishedIds()
    sent = _rows(CHUNK)
    await _sent(ids, sent)
    failed = [fill(n, T + n) for n in range(CHUNK, 4 * CHUNK)]

    async def fail(fresh: list[Envelope]) -> None:
        raise ConnectionError("bus down")

    with pytest.raises(ConnectionError):
        await ids.publish(failed, fail)
    assert len(ids._chunks) == 1 and len(ids) == CHUNK
    assert await _sent(ids, sent) == []
    assert len(await _sent(ids, failed)) == 3 * CHUNK


async def test_a_lost_bus_or_forgotten_time_sends_again() -> None:
    ids = PublishedIds()
    rows = _rows(2 * CHUNK)
    await _sent(ids, rows)
    ids.forget_all()
    assert len(await _sent(ids, rows)) == 2 * CHUNK, "nothing is known to be on the bus"
    ids.forget_before(rows[CHUNK].exchange_ms or 0)
    assert await _sent(ids, rows[CHUNK:]) == [], "the rows the cursor did not pass are still known"
    assert len(await _sent(ids, rows[:CHUNK])) == CHUNK, "those it passed are forgotten"


async def test_the_ids_are_bounded_the_oldest_sent_first() -> None:
    ids = PublishedIds()
    rows = _rows(MAX_HASHES + 8)
    await _sent(ids, rows)
    assert len(ids) <= MAX_HASHES
    assert await _sent(ids, rows[CHUNK:]) == []
    assert len(await _sent(ids, rows[:CHUNK])) == CHUNK, "the oldest chunk went"


async def test_ids_forgotten_after_a_burst_give_their_memory_back() -> None:
    """After a burst, a history at rest holds at most the chunk the cursor is in (a dict kept the
    table its largest size needed: ~9 KiB for a handful of ids, bench/RESULTS.md "h3, stop 26");
    what is not forgotten is still known, and once the cursor is past every row nothing is held."""
    ids = PublishedIds()
    rows = _rows(3 * CHUNK)
    assert len(await _sent(ids, rows)) == 3 * CHUNK
    ids.forget_before(rows[-2].exchange_ms or 0)
    assert len(ids) == CHUNK
    assert await _sent(ids, rows[-CHUNK:]) == []
    assert len(await _sent(ids, rows[-CHUNK - 1 : -CHUNK])) == 1
    ids.forget_before((rows[-1].exchange_ms or 0) + 1)
    assert len(ids) == 0 and not ids._chunks
