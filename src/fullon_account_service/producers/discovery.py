"""Which accounts this producer watches: read from the database, re-read, woken by NOTIFY.

Every active exchange of every active user (``exchanges.get_active()``), optionally narrowed to
chosen ex_ids and to this replica's shard (``--shard i/n``: a stable hash of ex_id, so replicas
agree without talking; without a shard the lease pool picks this producer's share). Re-read
every ``ACCOUNT_REDISCOVER_INTERVAL`` seconds; on PostgreSQL a ``LISTEN fullon_account_exchanges``
connection wakes the loop at once when anything runs ``NOTIFY fullon_account_exchanges``
(``storage.db.plain_writes`` does, in the transaction that adds or removes an account), so an
account added, deactivated or removed starts or stops without waiting for the interval.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from fullon_account_service.errors import AccountServiceError, ConfigError
from fullon_account_service.logs import get_logger
from fullon_account_service.producers.account import AccountRef, account_ref
from fullon_account_service.retry import OUTAGE_RETRY, RetryPolicy
from fullon_account_service.storage.db.context import DatabaseContext
from fullon_account_service.storage.db.schema_names import EXCHANGES_CHANNEL
from fullon_account_service.supervisor import TaskSupervisor

_log = get_logger("producers.discovery")

Apply = Callable[[dict[int, AccountRef]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Shard:
    index: int
    count: int

    @classmethod
    def parse(cls, value: str) -> Shard:
        """``"i/n"`` with 0 <= i < n."""
        try:
            i, n = (int(part) for part in value.split("/"))
        except ValueError as e:
            raise ConfigError(f"--shard {value!r}: expected i/n, e.g. 0/3") from e
        if not 0 <= i < n:
            raise ConfigError(f"--shard {value!r}: need 0 <= i < n")
        return cls(i, n)

    def owns(self, ex_id: int) -> bool:
        digest = hashlib.blake2b(str(ex_id).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") % self.count == self.index


class Discovery:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        interval_s: float,
        ex_ids: Collection[int] | None = None,
        shard: Shard | None = None,
        engine: AsyncEngine | None = None,
        retry: RetryPolicy = OUTAGE_RETRY,
    ) -> None:
        self._factory = session_factory
        self._interval = interval_s
        self._ex_ids = set(ex_ids) if ex_ids else None
        self._shard = shard
        self._engine = engine
        self._retry = retry
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    def _wanted(self, ref: AccountRef) -> bool:
        if self._ex_ids is not None and ref.ex_id not in self._ex_ids:
            return False
        return self._shard is None or self._shard.owns(ref.ex_id)

    async def snapshot(self) -> dict[int, AccountRef]:
        async with DatabaseContext(self._factory) as db:
            rows = await db.exchanges.get_active()
            refs = [account_ref(row) for row in rows]
        return {ref.ex_id: ref for ref in refs if self._wanted(ref)}

    async def run(self, apply: Apply, stop: asyncio.Event) -> None:
        """Apply the current set now and after every interval or NOTIFY, until ``stop``."""
        async with TaskSupervisor("discovery") as tasks:
            tasks.spawn(self._listen(stop), name="discovery-listen")
            while not stop.is_set():
                self._wake.clear()
                try:
                    await apply(await self.snapshot())
                except AccountServiceError as e:
                    _log.warning("discovery failed; keeping current accounts", error=str(e))
                try:
                    async with asyncio.timeout(self._interval):
                        await self._wake.wait()
                except TimeoutError:
                    pass

    async def _listen(self, stop: asyncio.Event) -> None:
        if self._engine is None or self._engine.dialect.name != "postgresql":
            return
        attempts = self._retry.start()
        while not stop.is_set():
            try:
                async with self._engine.connect() as conn:
                    raw: Any = (await conn.get_raw_connection()).driver_connection
                    await raw.add_listener(EXCHANGES_CHANNEL, lambda *_: self._wake.set())
                    attempts.reset()
                    while not stop.is_set() and not raw.is_closed():
                        try:
                            async with asyncio.timeout(5.0):
                                await stop.wait()
                        except TimeoutError:
                            pass
            except Exception as e:
                delay = attempts.next()
                _log.warning(
                    "LISTEN connection lost; relying on the interval",
                    error=repr(e),
                    retry_in_s=round(delay, 2),
                )
                await asyncio.sleep(delay)
