"""The ``fullon_account_balance_unexplained`` gauge: set per ex_id and currency from stored data."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from fullon_account_service.ledger.explain import Anchor
from fullon_account_service.metrics.prometheus import PrometheusSensor
from fullon_account_service.producers.cursor import CursorStore
from fullon_account_service.storage.balance_anchors import BalanceAnchors
from fullon_account_service.verify.explained_poller import record_explained
from fullon_account_service.verify.stored_through import LEDGER_CURSOR

PREFIX = "metric:"


@pytest.mark.usefixtures("session_factory")  # the migrated tables
async def test_the_gauge_holds_the_largest_remainder_per_currency(
    database_url: str, redis_client: aioredis.Redis
) -> None:
    anchors = BalanceAnchors(redis_client, prefix=PREFIX)
    await anchors.record([(4, 1_000, {"USD": 10.0, "BTC": 1.0}), (4, 2_000, {"USD": 12.5, "BTC": 1.0})])
    cursors = CursorStore(redis_client, prefix=PREFIX)
    await cursors.advance(4, 5_000)
    await cursors.named(LEDGER_CURSOR).advance(4, 5_000)
    assert (await anchors.read(4))["USD"] == [Anchor(1_000, 10.0), Anchor(2_000, 12.5)]

    registry = CollectorRegistry()
    sensor = PrometheusSensor(registry)
    await record_explained(database_url, redis_client, sensor, prefix=PREFIX, band_ms=0, partitions=1)

    def value(currency: str) -> float | None:
        labels = {"ex_id": "4", "currency": currency}
        return registry.get_sample_value("fullon_account_balance_unexplained", labels)

    assert value("USD") == 2.5  # no fill, no entry: the 2.5 USD that came in are unexplained
    assert value("BTC") == 0.0
