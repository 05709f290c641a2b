"""The truth stored as a perfect producer and the real sinks would store it, for the books checks.

``store_truth`` registers one exchange row per truth account and hands every event of the truth
(``truth_events``) to the real ORM and cache sinks; the ``stored`` fixture (``conftest``) does it
for a module's ``truth``. ``demo_result`` wraps a comparison the way the demo's verdict reads it.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from truth_events import truth_envelopes

from fullon_account_service.bus.consumer import Delivery
from fullon_account_service.demo.report import DemoResult
from fullon_account_service.sinks import orm_sink
from fullon_account_service.sinks.accounts import KnownAccounts
from fullon_account_service.sinks.cache_sink import CacheSink
from fullon_account_service.sinks.orm_sink import OrmSink
from fullon_account_service.storage.account_cache import AccountCache
from fullon_account_service.storage.db.context import DatabaseContext
from fullon_account_service.verify import BooksComparison

AccountIds = dict[tuple[str, int], int]
"""(venue, account index in the truth) -> ex_id."""


async def store_truth(
    factory: async_sessionmaker[AsyncSession], redis: aioredis.Redis, truth: dict[str, Any]
) -> AccountIds:
    ids: AccountIds = {}
    async with DatabaseContext(factory) as db:
        user = await db.users.add("verify@example.com")
        for account in truth["accounts"]:
            row = await db.exchanges.add(user.uid, account["venue"], f"sim-{account['index']}")
            ids[(account["venue"], account["index"])] = row.ex_id
    known = KnownAccounts(factory)
    deliveries = [Delivery("s", f"{i}-0", e, 1) for i, e in enumerate(truth_envelopes(truth, ids), 1)]
    await OrmSink(factory, known).handle([d for d in deliveries if d.envelope.kind in orm_sink.KINDS])
    await CacheSink(AccountCache(redis), known).handle(
        [d for d in deliveries if d.envelope.kind in ("balance", "position")]
    )
    return ids


def demo_result(comparison: BooksComparison) -> DemoResult:
    return DemoResult(
        accounts=(),
        events_by_kind={},
        scenario_steps=0,
        comparison=comparison,
        caught_up=True,
        settle_s=0.0,
        database="db",
        log_path="log",
    )
