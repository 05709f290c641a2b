"""The cache sink: latest snapshot wins by exchange time, partial ones merge, empty ones delete."""

from __future__ import annotations

import asyncio
import json
import random

import pytest
import redis.asyncio as aioredis

from fullon_account_service.contract import (
    BalanceSnapshot,
    CurrencyBalance,
    Envelope,
    OrderStatus,
    OrderUpdate,
    Position,
    PositionSide,
    PositionSnapshot,
    Side,
)
from fullon_account_service.errors import ContractError
from fullon_account_service.sinks.accounts import KnownAccounts
from fullon_account_service.sinks.cache_sink import CacheSink
from fullon_account_service.storage.account_cache import AccountCache
from sink_samples import Db, deliveries, envelope

T0 = 1_700_000_000_000


def balances(partial: bool = False, **totals: float) -> BalanceSnapshot:
    return BalanceSnapshot(
        balances={cur: CurrencyBalance(total=t, free=t, used=0.0) for cur, t in totals.items()},
        partial=partial,
    )


def position(symbol: str, volume: float, side: PositionSide = PositionSide.LONG) -> Position:
    return Position(symbol=symbol, side=side, volume=volume, entry_price=100.0)


@pytest.fixture
def sink(db: Db, redis_client: aioredis.Redis) -> CacheSink:
    return CacheSink(AccountCache(redis_client), KnownAccounts(db.factory))


async def stored_account(redis: aioredis.Redis, ex_id: int = 1) -> dict[str, object]:
    raw = await redis.hget("accounts", str(ex_id))
    assert raw is not None
    document: dict[str, object] = json.loads(raw)
    return document


async def test_an_older_snapshot_never_overwrites_a_newer_one(
    sink: CacheSink, redis_client: aioredis.Redis
) -> None:
    await sink.handle(deliveries([envelope(balances(BTC=2.0), exchange_ms=T0 + 200)]))
    await sink.handle(deliveries([envelope(balances(BTC=1.0), exchange_ms=T0 + 100)]))
    assert (await stored_account(redis_client))["BTC"] == {
        "total": 2.0,
        "free": 2.0,
        "used": 0.0,
        "balance": 2.0,
        "available": 2.0,
    }
    # Inside one batch too, whatever the arrival order; an older partial is dropped as well.
    await sink.handle(
        deliveries(
            [
                envelope(balances(BTC=5.0, USDT=9.0), exchange_ms=T0 + 400),
                envelope(balances(BTC=3.0), exchange_ms=T0 + 300),
                envelope(balances(partial=True, BTC=4.0), exchange_ms=T0 + 350),
            ]
        )
    )
    account = await stored_account(redis_client)
    assert {k: v["total"] for k, v in account.items() if isinstance(v, dict)} == {"BTC": 5.0, "USDT": 9.0}
    assert isinstance(account["date"], str)
    assert await redis_client.hget("accounts:exchange_ms", "1") == str(T0 + 400).encode()


async def test_partial_snapshots_merge_and_complete_ones_replace(
    sink: CacheSink, redis_client: aioredis.Redis
) -> None:
    await sink.handle(deliveries([envelope(balances(BTC=1.0, USDT=100.0, ETH=3.0), exchange_ms=T0)]))
    await sink.handle(deliveries([envelope(balances(partial=True, BTC=1.5), exchange_ms=T0 + 10)]))
    totals = {k: v["total"] for k, v in (await stored_account(redis_client)).items() if isinstance(v, dict)}
    assert totals == {"BTC": 1.5, "USDT": 100.0, "ETH": 3.0}
    await sink.handle(
        deliveries(
            [
                envelope(balances(partial=True, USDT=50.0), exchange_ms=T0 + 20),
                envelope(balances(partial=True, ETH=2.0), exchange_ms=T0 + 30),
            ]
        )
    )
    totals = {k: v["total"] for k, v in (await stored_account(redis_client)).items() if isinstance(v, dict)}
    assert totals == {"BTC": 1.5, "USDT": 50.0, "ETH": 2.0}
    await sink.handle(
        deliveries(
            [
                envelope(balances(USDT=7.0), exchange_ms=T0 + 40),
                envelope(balances(partial=True, BTC=0.5), exchange_ms=T0 + 50),
            ]
        )
    )
    totals = {k: v["total"] for k, v in (await stored_account(redis_client)).items() if isinstance(v, dict)}
    assert totals == {"USDT": 7.0, "BTC": 0.5}


async def test_positions_merge_close_and_delete_when_nothing_is_open(
    sink: CacheSink, redis_client: aioredis.Redis
) -> None:
    snap = PositionSnapshot(
        positions=[position("BTC/USDT:USDT", 1.0), position("ETH/USDT:USDT", 2.0, PositionSide.SHORT)]
    )
    await sink.handle(deliveries([envelope(snap, exchange_ms=T0)]))
    raw = json.loads(await redis_client.hget("account_positions", "1") or b"{}")
    assert set(raw) == {"BTC/USDT:USDT", "ETH/USDT:USDT", "timestamp"}
    assert raw["ETH/USDT:USDT"]["side"] == "short"
    assert {"cost", "volume", "fee", "count", "price", "timestamp"} <= set(raw["BTC/USDT:USDT"])
    close_btc = PositionSnapshot(positions=[position("BTC/USDT:USDT", 0.0, PositionSide.FLAT)], partial=True)
    await sink.handle(deliveries([envelope(close_btc, exchange_ms=T0 + 10)]))
    assert [p["symbol"] for p in await AccountCache(redis_client).get_positions(1)] == ["ETH/USDT:USDT"]
    await sink.handle(deliveries([envelope(PositionSnapshot(positions=[]), exchange_ms=T0 + 20)]))
    assert await redis_client.hget("account_positions", "1") is None
    # A late snapshot from before the close does not bring the positions back.
    await sink.handle(deliveries([envelope(snap, exchange_ms=T0 + 5)]))
    assert await redis_client.hget("account_positions", "1") is None
    await sink.handle(deliveries([envelope(snap, exchange_ms=T0 + 30)]))
    close_all = PositionSnapshot(
        positions=[
            position("BTC/USDT:USDT", 0.0, PositionSide.FLAT),
            position("ETH/USDT:USDT", 0.0, PositionSide.FLAT),
        ],
        partial=True,
    )
    await sink.handle(deliveries([envelope(close_all, exchange_ms=T0 + 40)]))
    assert await redis_client.hget("account_positions", "1") is None


async def test_unknown_account_and_foreign_kind_are_contract_errors(sink: CacheSink) -> None:
    with pytest.raises(ContractError, match="unknown ex_id"):
        await sink.handle(deliveries([envelope(balances(BTC=1.0), ex_id=42)]))
    order = OrderUpdate(
        ex_order_id="o", symbol="BTC/USDT", side=Side.BUY, order_type="limit", status=OrderStatus.OPEN
    )
    with pytest.raises(ContractError, match="order event"):
        await sink.handle(deliveries([envelope(order)]))


def totals(document: dict[str, object]) -> dict[str, float]:
    return {k: v["total"] for k, v in document.items() if isinstance(v, dict)}


async def test_a_batch_mixing_versions_keeps_the_newest_and_merges_partials_in_order(
    sink: CacheSink, redis_client: aioredis.Redis
) -> None:
    batch = [
        envelope(balances(partial=True, ETH=5.0), exchange_ms=T0 + 200),
        envelope(balances(partial=True, BTC=2.0), exchange_ms=T0 + 150),
        envelope(balances(BTC=1.0, USDT=10.0), exchange_ms=T0 + 100),
        envelope(balances(partial=True, XRP=1.0), exchange_ms=T0 + 90),  # before the complete one
        envelope(balances(SOL=9.0), exchange_ms=T0 + 50),  # an older complete one
        envelope(balances(partial=True, BTC=3.0), exchange_ms=T0 + 150),  # same time: arrival order
        envelope(balances(partial=True, USDT=11.0), exchange_ms=T0 + 120),
        envelope(balances(partial=True, DOT=4.0), ex_id=2, exchange_ms=T0 + 10),
        envelope(balances(partial=True, DOT=6.0), ex_id=2, exchange_ms=T0 + 20),
        envelope(balances(partial=True, ADA=1.0), ex_id=2, exchange_ms=T0 + 15),
        envelope(PositionSnapshot(positions=[position("BTC/USDT:USDT", 1.0)]), exchange_ms=T0 + 100),
        envelope(
            PositionSnapshot(positions=[position("BTC/USDT:USDT", 0.0, PositionSide.FLAT)], partial=True),
            exchange_ms=T0 + 110,
        ),
        envelope(
            PositionSnapshot(positions=[position("ETH/USDT:USDT", 2.0)], partial=True), exchange_ms=T0 + 120
        ),
        envelope(PositionSnapshot(positions=[position("SOL/USDT:USDT", 3.0)]), exchange_ms=T0 + 60),
    ]
    await sink.handle(deliveries(batch))
    assert totals(await stored_account(redis_client)) == {"BTC": 3.0, "USDT": 11.0, "ETH": 5.0}
    assert totals(await stored_account(redis_client, 2)) == {"DOT": 6.0, "ADA": 1.0}
    assert await redis_client.hget("accounts:exchange_ms", "1") == str(T0 + 200).encode()
    assert await redis_client.hget("accounts:exchange_ms", "2") == str(T0 + 20).encode()
    assert [p["symbol"] for p in await AccountCache(redis_client).get_positions(1)] == ["ETH/USDT:USDT"]
    assert await redis_client.hget("account_positions:exchange_ms", "1") == str(T0 + 120).encode()
    assert await redis_client.hexists("account_positions:freshness", "1")


async def test_partials_newer_than_a_stored_snapshot_merge_over_it_not_over_an_older_one(
    sink: CacheSink, redis_client: aioredis.Redis
) -> None:
    # Another consumer stored a complete snapshot at +130; this batch's complete one is older
    # (+100) but brings a newer partial (+150): the stored account keeps its content under it.
    await sink.handle(deliveries([envelope(balances(SOL=1.0), exchange_ms=T0 + 130)]))
    await sink.handle(
        deliveries(
            [
                envelope(balances(BTC=1.0), exchange_ms=T0 + 100),
                envelope(balances(partial=True, USDT=2.0), exchange_ms=T0 + 150),
                envelope(balances(partial=True, ETH=7.0), exchange_ms=T0 + 120),
            ]
        )
    )
    assert totals(await stored_account(redis_client)) == {"SOL": 1.0, "USDT": 2.0}
    assert await redis_client.hget("accounts:exchange_ms", "1") == str(T0 + 150).encode()


async def test_two_concurrent_sinks_keep_the_newest_snapshot_and_lose_no_merge(
    db: Db, redis_client: aioredis.Redis
) -> None:
    rnd = random.Random(5)
    sinks = [CacheSink(AccountCache(redis_client), KnownAccounts(db.factory)) for _ in range(2)]
    # Complete snapshots of both accounts at shuffled times, shared out between the sinks.
    snaps = [
        envelope(balances(BTC=float(ms), USDT=float(ex_id)), ex_id=ex_id, exchange_ms=T0 + ms)
        for ms in range(60)
        for ex_id in (1, 2)
    ]
    rnd.shuffle(snaps)
    # Then partial updates of account 1, all at one exchange time so none is stale: each is a
    # compare-and-set that must land whichever sink writes first.
    merges = [
        envelope(balances(partial=True, **{f"C{i}": float(i)}), exchange_ms=T0 + 100) for i in range(40)
    ]

    async def run(index: int, envelopes: list[Envelope]) -> None:
        mine = envelopes[index::2]
        for start in range(0, len(mine), 3):
            await sinks[index].handle(deliveries(mine[start : start + 3]))

    async with asyncio.timeout(60):
        await asyncio.gather(run(0, snaps), run(1, snaps))
        assert totals(await stored_account(redis_client, 1)) == {"BTC": 59.0, "USDT": 1.0}
        assert totals(await stored_account(redis_client, 2)) == {"BTC": 59.0, "USDT": 2.0}
        await asyncio.gather(run(0, merges), run(1, merges))
    expected = {"BTC": 59.0, "USDT": 1.0} | {f"C{i}": float(i) for i in range(40)}
    assert totals(await stored_account(redis_client, 1)) == expected
    assert await redis_client.hget("accounts:exchange_ms", "1") == str(T0 + 100).encode()


def random_snapshots(rnd: random.Random, n: int) -> list[Envelope]:
    """Balance and position snapshots of both accounts, complete or partial, at clashing times."""
    out = []
    for _ in range(n):
        ex_id, ms, partial = rnd.choice((1, 2)), T0 + rnd.randint(0, 30), rnd.random() < 0.6
        if rnd.random() < 0.5:
            currencies = rnd.sample(("BTC", "ETH", "USDT", "SOL"), rnd.randint(0 if not partial else 1, 3))
            payload: BalanceSnapshot | PositionSnapshot = balances(
                partial, **{c: float(rnd.randint(0, 9)) for c in currencies}
            )
        else:
            symbols = rnd.sample(("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"), rnd.randint(0, 2))
            books = [
                position(s, 0.0, PositionSide.FLAT) if rnd.random() < 0.3 else position(s, rnd.randint(1, 9))
                for s in symbols
            ]
            payload = PositionSnapshot(positions=books, partial=partial)
        out.append(envelope(payload, ex_id=ex_id, exchange_ms=ms))
    return out


async def stored_state(redis: aioredis.Redis) -> dict[str, object]:
    """Every cache hash but freshness, with the documents' write dates left out."""
    state: dict[str, object] = {}
    for key in ("accounts", "account_positions"):
        documents = await redis.hgetall(key)
        state[key] = {
            field: {k: v for k, v in json.loads(raw).items() if k not in ("date", "timestamp")}
            for field, raw in documents.items()
        }
        state[f"{key}:exchange_ms"] = await redis.hgetall(f"{key}:exchange_ms")
    return state


@pytest.mark.parametrize("seed", range(6))
async def test_one_batch_stores_what_the_same_snapshots_one_by_one_in_time_order_store(
    sink: CacheSink, redis_client: aioredis.Redis, seed: int
) -> None:
    rnd = random.Random(seed)
    earlier = [envelope(balances(BTC=1.0), ex_id=1, exchange_ms=T0 + 12)]
    events = random_snapshots(rnd, 25)
    await sink.handle(deliveries(earlier))
    await sink.handle(deliveries(events))
    batched = await stored_state(redis_client)
    await redis_client.flushdb()
    await sink.handle(deliveries(earlier))
    for event in sorted(events, key=lambda e: e.exchange_ms or 0):
        await sink.handle(deliveries([event]))
    assert await stored_state(redis_client) == batched
