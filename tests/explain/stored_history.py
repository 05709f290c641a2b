"""One account's history stored through the real sinks, with its producer's history cursors past
it: what the balance-explained tests judge (``verify.explained``, ``verify.stored_through``)."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from factories import NOW_MS, deliveries, envelope, fill, ledger_entry
from fullon_account_service.contract import BalanceSnapshot, CurrencyBalance, LedgerReason, Side
from fullon_account_service.producers.cursor import CursorStore
from fullon_account_service.sinks.accounts import KnownAccounts
from fullon_account_service.sinks.cache_sink import CacheSink
from fullon_account_service.sinks.orm_sink import OrmSink
from fullon_account_service.storage.account_cache import AccountCache
from fullon_account_service.storage.balance_anchors import BalanceAnchors
from fullon_account_service.storage.db.context import DatabaseContext
from fullon_account_service.verify.explained import AccountExplanation, explain_accounts
from fullon_account_service.verify.stored_through import LEDGER_CURSOR, stored_through_ms

S = 1_000


def _balances(usdt: float, btc: float) -> BalanceSnapshot:
    return BalanceSnapshot(
        balances={"USDT": CurrencyBalance(total=usdt), "BTC": CurrencyBalance(total=btc)}, partial=True
    )


FILLS = [
    fill("spot-1", symbol="BTC/USDT", side=Side.BUY, volume=0.01, price=50_000.0, fee=0.5,
         fee_currency="USDT", time_ms=NOW_MS + 10 * S),
    fill("perp-1", ex_order_id="o-2", symbol="ETH/USDT:USDT", side=Side.BUY, volume=1.0, price=3_000.0,
         fee=1.65, fee_currency="USDT", time_ms=NOW_MS + 32 * S),
    fill("perp-2", ex_order_id="o-3", symbol="ETH/USDT:USDT", side=Side.SELL, volume=1.0, price=3_100.0,
         fee=1.705, time_ms=NOW_MS + 40 * S),
]  # fmt: skip
ENTRIES = [
    ledger_entry("dep-1", amount=100.0, reason=LedgerReason.DEPOSIT, symbol=None, time_ms=NOW_MS + 30 * S),
    ledger_entry("fund-1", amount=-0.3, time_ms=NOW_MS + 50 * S),
]
ANCHORS = [
    (NOW_MS, _balances(1_000.0, 0.0)),
    (NOW_MS + 20 * S, _balances(499.5, 0.01)),
    (NOW_MS + 60 * S, _balances(499.5 + 100.0 - 1.65 + 100.0 - 1.705 - 0.3, 0.01)),
]


@dataclass(frozen=True, slots=True)
class Stored:
    ex_id: int
    factory: async_sessionmaker[AsyncSession]
    database_url: str
    redis: aioredis.Redis
    prefix: str

    async def explain(self, partitions: int = 1) -> AccountExplanation:
        [account] = await explain_accounts(
            self.database_url, self.redis, prefix=self.prefix, band_ms=2 * S, partitions=partitions
        )
        return account

    async def through(self, partitions: int = 1) -> int | None:
        return await stored_through_ms(self.redis, self.prefix, self.ex_id, partitions=partitions)


async def store_history(
    factory: async_sessionmaker[AsyncSession],
    database_url: str,
    redis: aioredis.Redis,
    prefix: str,
    *,
    cache_sink: bool = True,
) -> Stored:
    """The history above through the real sinks, its cursors past it (as a producer leaves them);
    ``cache_sink`` False records the anchors alone (a Redis over TCP in tests runs no scripts)."""
    async with DatabaseContext(factory) as db:
        user = await db.users.add("explain@example.com")
        ex_id = (await db.exchanges.add(user.uid, "bybit", "main")).ex_id
    known = KnownAccounts(factory)
    facts = [envelope(f, ex_id=ex_id, exchange="bybit", exchange_ms=f.time_ms) for f in [*FILLS, *ENTRIES]]
    await OrmSink(factory, known).handle(deliveries(facts))
    anchors = BalanceAnchors(redis, prefix=prefix)
    if cache_sink:
        sink = CacheSink(AccountCache(redis), known, anchors)
        snapshots = [envelope(b, ex_id=ex_id, exchange="bybit", exchange_ms=ms) for ms, b in ANCHORS]
        await sink.handle(deliveries(snapshots))
        await sink.handle(deliveries(snapshots))  # a redelivery adds no anchor
    else:
        await anchors.record(
            (ex_id, ms, {cur: row.total for cur, row in snap.balances.items()}) for ms, snap in ANCHORS
        )
    cursors = CursorStore(redis, prefix=prefix)
    await cursors.advance(ex_id, NOW_MS + 100 * S)
    await cursors.named(LEDGER_CURSOR).advance(ex_id, NOW_MS + 100 * S)
    return Stored(ex_id, factory, database_url, redis, prefix)
