"""Stored books against the ground truth: the end-to-end check of the whole pipeline.

Reads what the sinks wrote (``trades`` and ``orders`` tables with each trade's realised PnL and
position, the ``ledger`` table, the ``accounts`` and ``account_positions`` hashes of
AccountCache) for the ex_ids given and compares it with ``simulator.truth.ground_truth(world)``
by the rules of ``compare``, the PnL included (``pnl``). Read-only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fullon_account_service.ledger.fills import Fill
from fullon_account_service.ledger.orders import OrderRecord
from fullon_account_service.storage.account_cache import AccountCache
from fullon_account_service.storage.cache_shapes import ACCOUNT_DATE
from fullon_account_service.storage.db.errors import translating
from fullon_account_service.storage.db.models import Order, Trade
from fullon_account_service.storage.db.repositories.ledger import LedgerRepository
from fullon_account_service.verify.compare import (
    DEFAULT_LIMIT,
    AccountKey,
    Books,
    BooksComparison,
    compare_books,
)
from fullon_account_service.verify.expect import BalanceView, PositionView
from fullon_account_service.verify.pnl import TradeResult

StoredBooks = dict[int, Books]


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def balance_view(entry: Mapping[str, Any]) -> BalanceView:
    return BalanceView(_number(entry.get("total")), _number(entry.get("free")), _number(entry.get("used")))


def position_view(entry: Mapping[str, Any]) -> PositionView:
    """The cache signs ``volume`` (fullon's convention); the view keeps the size beside ``side``."""
    return PositionView(
        str(entry.get("side")), abs(float(entry.get("volume") or 0.0)), _number(entry.get("price"))
    )


async def _load_sql(
    session_factory: async_sessionmaker[AsyncSession], ex_ids: Collection[int], books: StoredBooks
) -> None:
    async with translating("read stored books"), session_factory() as session:
        for trade in await session.scalars(select(Trade).where(Trade.ex_id.in_(ex_ids))):
            books[trade.ex_id].results[trade.ex_trade_id] = TradeResult(
                trade.ex_trade_id, trade.ex_order_id, trade.time_ms, trade.roi, trade.cur_volume
            )
            books[trade.ex_id].add_fill(
                Fill(**{name: getattr(trade, name) for name in Fill.__struct_fields__})
            )
        for order in await session.scalars(select(Order).where(Order.ex_id.in_(ex_ids))):
            if order.ex_order_id is not None:  # a fullon bot's order the venue has not acknowledged
                books[order.ex_id].orders[order.ex_order_id] = OrderRecord(
                    **{f.name: getattr(order, f.name) for f in dataclasses.fields(OrderRecord)}
                )
        for entry in await LedgerRepository(session).entries_of(ex_ids):
            books[entry.ex_id].add_entry(entry)


async def _load_cache(cache: AccountCache, ex_ids: Collection[int], books: StoredBooks) -> None:
    for ex_id in ex_ids:
        document = await cache.get_account(ex_id) or {}
        books[ex_id].balances = {
            currency: balance_view(entry)
            for currency, entry in document.items()
            if currency != ACCOUNT_DATE and isinstance(entry, dict)
        }
        books[ex_id].positions = {
            str(entry["symbol"]): position_view(entry) for entry in await cache.get_positions(ex_id)
        }


async def load_stored(
    ex_ids: Collection[int], session_factory: async_sessionmaker[AsyncSession], redis: aioredis.Redis
) -> StoredBooks:
    books: StoredBooks = {ex_id: Books() for ex_id in ex_ids}
    if not books:
        return books
    await _load_sql(session_factory, list(books), books)
    await _load_cache(AccountCache(redis), list(books), books)
    return books


async def verify_books(
    truth: Mapping[str, Any],
    ex_ids: Mapping[AccountKey, int],
    session_factory: async_sessionmaker[AsyncSession],
    redis: aioredis.Redis,
    *,
    limit: int = DEFAULT_LIMIT,
) -> BooksComparison:
    """``ex_ids`` maps each simulated account, ``(venue, index)``, to the ex_id it was registered as."""
    stored = await load_stored(set(ex_ids.values()), session_factory, redis)
    return compare_books(truth, ex_ids, stored, limit=limit, check_pnl=True)
