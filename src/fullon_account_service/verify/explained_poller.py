"""The ``balance_unexplained`` gauge: balance explained (``verify.explained``) read periodically.

No event carries the remainder: it is a comparison of stored balances, fills and ledger entries.
The ``orm`` sink process, which has both the database and Redis, runs ``ExplainPoller``; every
``interval_s`` it explains every account with balance anchors and sets, per ex_id and currency,
the largest remainder of the judged windows (0.0 when all explain). Here, not in ``metrics``,
which producers import: it reads the sinks' storage.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from fullon_account_service.metrics.runtime import PeriodicReading
from fullon_account_service.metrics.sensor import Sensor
from fullon_account_service.verify.explained import explain_accounts


async def record_explained(
    database_url: str,
    redis: aioredis.Redis,
    sensor: Sensor,
    *,
    prefix: str,
    band_ms: int,
    partitions: int,
) -> None:
    """One explanation of every account into ``sensor``."""
    explained = await explain_accounts(
        database_url, redis, prefix=prefix, band_ms=band_ms, partitions=partitions
    )
    for account in explained:
        for currency, remainder in account.remainders().items():
            sensor.on_balance_unexplained(account.ex_id, currency, remainder)


class ExplainPoller(PeriodicReading):
    """Runs ``record_explained`` every ``interval_s``."""

    name = "metrics-balance-explained"
    what = "explain balances"

    def __init__(
        self,
        database_url: str,
        redis: aioredis.Redis,
        sensor: Sensor,
        *,
        prefix: str,
        band_ms: int,
        partitions: int,
        interval_s: float = 60.0,
    ) -> None:
        super().__init__(interval_s=interval_s)
        self._database_url = database_url
        self._redis = redis
        self._sensor = sensor
        self._prefix = prefix
        self._band_ms = band_ms
        self._partitions = partitions

    async def read(self) -> None:
        await record_explained(
            self._database_url,
            self._redis,
            self._sensor,
            prefix=self._prefix,
            band_ms=self._band_ms,
            partitions=self._partitions,
        )
