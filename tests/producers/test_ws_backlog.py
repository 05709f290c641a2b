"""Rows ccxt cached while no ``watch_*`` call waited are taken once, and never twice; once every
row was taken and handled, ccxt's cache is emptied."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import ccxt.pro
import pytest
from ccxt.async_support.base.ws.cache import ArrayCacheBySymbolById

from fullon_account_service.producers.ws_backlog import held_back


def _row(n: int) -> dict[str, Any]:
    return {"id": f"T{n}", "symbol": "BTC/USD", "timestamp": 1_700_000_000_000 + n}


@pytest.fixture
async def client() -> AsyncIterator[Any]:
    client = ccxt.pro.kraken()
    try:
        yield client
    finally:
        await client.close()


async def test_rows_cached_after_a_watch_returned_are_taken_once(client: Any) -> None:
    cache = ArrayCacheBySymbolById(100)
    client.myTrades = cache
    cache.append(_row(1))
    cache.getLimit(None, None)  # what watch_my_trades does when it hands rows over
    assert held_back(client, "my_trades") == [], "rows already handed over are not taken again"

    cache.append(_row(2))
    cache.append(_row(3))
    assert [r["id"] for r in held_back(client, "my_trades")] == ["T2", "T3"]
    assert held_back(client, "my_trades") == []

    cache.append(_row(2))  # an update of a row taken before comes again
    assert [r["id"] for r in held_back(client, "my_trades")] == ["T2"]
    assert held_back(client, "orders") == [], "no order cache yet: nothing held back"
    assert held_back(client, "balance") == []


async def test_the_cache_is_emptied_once_every_row_was_handed_over(client: Any) -> None:
    cache = ArrayCacheBySymbolById(20)
    client.orders = cache
    cache.append(_row(1))
    cache.append(_row(2))
    assert [r["id"] for r in held_back(client, "orders")] == ["T1", "T2"]
    assert len(cache) == 2, "rows just handed over stay until they were handled"

    assert held_back(client, "orders") == []
    assert len(cache) == 0 and not cache.hashmap, "handled rows are not kept"

    cache.append(_row(3))  # the stream goes on after the cache was emptied
    assert [r["id"] for r in held_back(client, "orders")] == ["T3"]
    cache.getLimit(None, None)
    assert held_back(client, "orders") == [] and len(cache) == 0
