"""Malformed bus entries through both sinks, interleaved with good ones, through the real consumer.

Each example publishes a random mix of good entries and damaged ones (``bad_entries``) on fresh
streams and lets a ``Consumer`` with the real sink drain them in small batches. It must not crash
or hold anything back, and afterwards:
- the dead-letter stream holds exactly the damaged entries, each with a reason saying why
  (``undecodable: ...`` from the codec, ``rejected by handler: ...`` from the sink);
- every good entry is stored exactly once with its own values (the trade, order and ledger rows;
  the AccountCache balances and positions), and nothing of a refused entry is stored.
Ids carry the example's number, so examples share the database and Redis without seeing each other.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis
from bad_entries import Bad, bad_entries
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from fullon_account_service.bus.consumer import Consumer, Handler
from fullon_account_service.bus.streams import ENTRY_FIELD, dead_letter_key, stream_key
from fullon_account_service.contract import (
    BalanceSnapshot,
    CurrencyBalance,
    Envelope,
    LedgerEntry,
    LedgerReason,
    OrderStatus,
    OrderUpdate,
    Payload,
    Position,
    PositionSide,
    PositionSnapshot,
    Side,
    TradeFill,
    encode,
)
from fullon_account_service.settings import Settings
from fullon_account_service.sinks.accounts import KnownAccounts
from fullon_account_service.sinks.cache_sink import CacheSink
from fullon_account_service.sinks.orm_sink import OrmSink
from fullon_account_service.storage.account_cache import AccountCache
from sink_samples import Db, envelope

FUZZ = settings(
    max_examples=25,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),  # shrinking a database round trip takes minutes
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
T0 = 1_750_000_000_000
_amounts = st.integers(1, 10**7).map(lambda n: n / 64)  # exact in binary, stored as they are


@dataclass(frozen=True)
class Good:
    """A good entry's values; ids are given when it is published."""

    kind: str
    ex_id: int
    a: float
    b: float
    c: float | None


def _goods(kinds: Sequence[str]) -> st.SearchStrategy[Good]:
    return st.builds(
        Good, st.sampled_from(kinds), st.sampled_from((1, 2)), _amounts, _amounts, st.none() | _amounts
    )


def _entries(kinds: Sequence[str], **options: bool) -> st.SearchStrategy[list[Good | tuple[str, Bad]]]:
    bads = st.sampled_from(kinds).flatmap(lambda k: bad_entries(k, **options).map(lambda b: (k, b)))
    return st.lists(st.one_of(_goods(kinds), bads), min_size=1, max_size=10)


def _payload(good: Good, tag: str) -> Payload:
    match good.kind:
        case "trade":
            return TradeFill(
                ex_trade_id=f"t{tag}",
                ex_order_id=f"o{tag}",
                symbol="BTC/USDT",
                side=Side.BUY,
                price=good.a,
                volume=good.b,
                cost=good.a * good.b,
                time_ms=T0,
                fee=good.c,
                fee_currency=None if good.c is None else "USDT",
            )
        case "ledger":
            return LedgerEntry(
                ex_ledger_id=f"l{tag}",
                currency="USDT",
                amount=good.a - good.b,
                reason=LedgerReason.FUNDING,
                time_ms=T0,
                raw_type="Funding",
                symbol="BTC/USDT:USDT",
                fee=good.c,
            )
        case "order":
            return OrderUpdate(
                ex_order_id=f"o{tag}",
                symbol="ETH/USDT",
                side=Side.SELL,
                order_type="limit",
                status=OrderStatus.OPEN,
                price=good.a,
                volume=good.b,
                filled=good.c,
            )
        case "balance":
            total = good.a + good.b
            balance = CurrencyBalance(total=total, free=good.a, used=good.b)
            return BalanceSnapshot(balances={f"C{tag}": balance}, partial=True)
        case _:
            position = Position(
                symbol=f"S{tag}/USDT:USDT", side=PositionSide.LONG, volume=good.a, entry_price=good.b
            )
            return PositionSnapshot(positions=[position], partial=True)


def _bad_base(kind: str, tag: str) -> Payload:
    """The good entry a ``Bad`` damages (its paths name ``USDT`` in a balance)."""
    if kind == "balance":
        return BalanceSnapshot(
            balances={"USDT": CurrencyBalance(total=3.0, free=1.0, used=2.0)}, partial=True
        )
    return _payload(Good(kind, 1, 1.0, 2.0, None), tag)


_FOREIGN = {
    "trade": BalanceSnapshot(balances={}, partial=True),
    "order": BalanceSnapshot(balances={}, partial=True),
    "balance": OrderUpdate(
        ex_order_id="x", symbol="X/Y", side=Side.BUY, order_type="limit", status=OrderStatus.OPEN
    ),
}
_FOREIGN["position"] = _FOREIGN["balance"]
_FOREIGN["ledger"] = _FOREIGN["trade"]


@dataclass
class Published:
    goods: dict[tuple[str, str], Envelope]
    """(stream, entry id) -> the good envelope published there."""
    bads: dict[tuple[str, str], Bad]


async def _publish(
    redis: aioredis.Redis, prefix: str, run: int, entries: list[Good | tuple[str, Bad]]
) -> Published:
    out = Published({}, {})
    for i, item in enumerate(entries):
        if isinstance(item, Good):
            env = envelope(_payload(item, f"{run}-{i}"), ex_id=item.ex_id, exchange_ms=T0 + run * 1000 + i)
            stream = stream_key(prefix, item.kind)
            entry_id = await redis.xadd(stream, {ENTRY_FIELD: encode(env)})
            out.goods[stream, entry_id.decode()] = env
        else:
            kind, bad = item
            good = envelope(_bad_base(kind, f"{run}-{i}"), exchange_ms=T0 + run * 1000 + i)
            fields = bad.fields(good, envelope(_FOREIGN[kind]))
            stream = stream_key(prefix, kind)
            entry_id = await redis.xadd(stream, fields)  # type: ignore[arg-type]
            out.bads[stream, entry_id.decode()] = bad
    return out


async def _drain(
    redis: aioredis.Redis, prefix: str, group: str, kinds: Sequence[str], handler: Handler, total: int
) -> None:
    """Consume in batches of 3 until every entry left the pending list (stored or dead-lettered)."""
    consumer = Consumer(
        redis,
        prefix=prefix,
        group=group,
        consumer="fuzz",
        kinds=kinds,
        handler=handler,
        batch_size=3,
        block_ms=1,
        max_deliveries=1,
    )
    await consumer.ensure_groups()
    done = 0
    async with asyncio.timeout(60):
        while done < total:
            done += await consumer.run_once()
    for stream in consumer.streams:
        assert (await redis.xpending(stream, group))["pending"] == 0


async def _assert_dead_letters(redis: aioredis.Redis, prefix: str, bads: dict[tuple[str, str], Bad]) -> None:
    letters = {
        (fields[b"stream"].decode(), fields[b"entry_id"].decode()): fields[b"reason"].decode()
        for _, fields in await redis.xrange(dead_letter_key(prefix))
    }
    assert set(letters) == set(bads), (letters, bads)
    for key, bad in bads.items():
        reason = letters[key]
        assert reason.startswith(bad.reason) and reason.splitlines() == [reason], (bad, reason)


_run = itertools.count()
_KINDS = {"orm": ("order", "trade", "ledger"), "cache": ("balance", "position")}


async def _consume(
    redis: aioredis.Redis,
    settings: Settings,
    group: str,
    handler: Handler,
    entries: list[Good | tuple[str, Bad]],
) -> tuple[int, Published]:
    """Publish ``entries`` on fresh streams, drain them through ``handler`` and check the dead
    letters; the example's number (in every id it published) and what it published."""
    run = next(_run)
    prefix = f"{settings.stream_prefix}fuzz{run}:"
    published = await _publish(redis, prefix, run, entries)
    await _drain(redis, prefix, group, _KINDS[group], handler, len(entries))
    await _assert_dead_letters(redis, prefix, published.bads)
    return run, published


@FUZZ
@given(entries=_entries(_KINDS["orm"], unusable_fill=True))
# Found by fuzzing: the reason quoted the bad value's line break, so the dead letter's reason
# (and the log line) spanned two lines.
@example(
    entries=[Good("order", 1, 1.0, 2.0, None), ("trade", Bad("unknown kind", ("payload", "kind"), "a\nb"))]
)
async def test_orm_sink_dead_letters_bad_entries_and_stores_good_ones_once(
    entries: list[Good | tuple[str, Bad]], db: Db, redis_client: aioredis.Redis, settings: Settings
) -> None:
    sink = OrmSink(db.factory, KnownAccounts(db.factory))
    run, published = await _consume(redis_client, settings, "orm", sink.handle, entries)

    async with db.factory() as session:
        trades = (
            await session.execute(
                text("SELECT ex_trade_id, ex_id, price, volume, fee FROM trades WHERE ex_trade_id LIKE :p"),
                {"p": f"t{run}-%"},
            )
        ).all()
        orders = (
            await session.execute(
                text(
                    "SELECT ex_order_id, ex_id, price, volume, filled FROM orders "
                    "WHERE ex_order_id LIKE :p AND symbol = 'ETH/USDT'"
                ),
                {"p": f"o{run}-%"},
            )
        ).all()
        entries_stored = (
            await session.execute(
                text("SELECT ex_ledger_id, ex_id, amount, fee FROM ledger WHERE ex_ledger_id LIKE :p"),
                {"p": f"l{run}-%"},
            )
        ).all()
    want_trades = {}
    want_orders = {}
    want_entries = {}
    for env in published.goods.values():
        match env.payload:
            case TradeFill() as f:
                want_trades[f.ex_trade_id] = (env.ex_id, f.price, f.volume, f.fee)
            case OrderUpdate() as o:
                want_orders[o.ex_order_id] = (env.ex_id, o.price, o.volume, o.filled)
            case LedgerEntry() as e:
                want_entries[e.ex_ledger_id] = (env.ex_id, e.amount, e.fee)
    assert sorted(r[0] for r in trades) == sorted(want_trades), "a fill stored twice, lost or invented"
    assert {r[0]: tuple(r[1:]) for r in trades} == want_trades
    assert sorted(r[0] for r in orders) == sorted(want_orders), "an order stored twice, lost or invented"
    assert {r[0]: tuple(r[1:]) for r in orders} == want_orders
    assert sorted(r[0] for r in entries_stored) == sorted(want_entries), (
        "a ledger entry stored twice, lost or invented"
    )
    assert {r[0]: tuple(r[1:]) for r in entries_stored} == want_entries


@FUZZ
@given(entries=_entries(("balance", "position")))
async def test_cache_sink_dead_letters_bad_entries_and_stores_good_ones(
    entries: list[Good | tuple[str, Bad]], db: Db, redis_client: aioredis.Redis, settings: Settings
) -> None:
    cache = AccountCache(redis_client)
    sink = CacheSink(cache, KnownAccounts(db.factory))
    run, published = await _consume(redis_client, settings, "cache", sink.handle, entries)

    for ex_id in (1, 2):
        account = await cache.get_account(ex_id) or {}
        positions = {p["symbol"]: p for p in await cache.get_positions(ex_id)}
        mine_balances = {k: v for k, v in account.items() if k.startswith(f"C{run}-")}
        mine_positions = {k: v for k, v in positions.items() if k.startswith(f"S{run}-")}
        want_balances = {}
        want_positions = {}
        for env in (e for e in published.goods.values() if e.ex_id == ex_id):
            match env.payload:
                case BalanceSnapshot(balances=balances):
                    want_balances.update(balances)
                case PositionSnapshot(positions=rows):
                    want_positions.update({p.symbol: p for p in rows})
        assert {k: (v["total"], v["free"], v["used"]) for k, v in mine_balances.items()} == {
            k: (b.total, b.free, b.used) for k, b in want_balances.items()
        }
        assert {k: (float(v["volume"]), float(v["price"])) for k, v in mine_positions.items()} == {
            k: (p.volume, p.entry_price) for k, p in want_positions.items()
        }
    unknown = [b.value for b in published.bads.values() if b.how == "unknown account"]
    for ex_id in unknown:
        assert await redis_client.hget("accounts", str(ex_id)) is None
