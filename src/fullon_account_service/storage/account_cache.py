"""AccountCache: balances and positions in Redis, laid out exactly as fullon_cache reads them.

Keys (see ``cache_shapes`` for the JSON inside):

- HASH ``accounts``: field ``str(ex_id)`` -> balances JSON;
- HASH ``account_positions``: field ``str(ex_id)`` -> positions JSON; no open position deletes
  the field;
- HASH ``accounts:freshness`` / ``account_positions:freshness``: ``str(ex_id)`` -> epoch seconds
  of the last write (ours; upstream had no way to spot a dead producer's data);
- HASH ``accounts:exchange_ms`` / ``account_positions:exchange_ms``: ``str(ex_id)`` -> exchange
  time of the stored snapshot, so a late older snapshot is skipped (see ``latest_wins``).

Every write, of one account or of a sink's whole batch, is one script call for all the accounts of
both hashes (``apply_snapshots``).

Fixes over upstream: ``get_positions(ex_id)`` returns that exchange's positions only, each
position keeps its ``side`` beside its signed ``volume``, a totals-only balance update keeps the
known split, unknown numbers stay ``null`` (but ``fee``/``count``, which fullon sums). Redis failures raise
``TransientError`` / ``FatalError`` instead of being logged and swallowed, so a sink can retry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis

from fullon_account_service.storage import cache_shapes as shapes
from fullon_account_service.storage.latest_wins import Update, apply
from fullon_account_service.storage.redis_holder import RedisHolder
from fullon_account_service.storage.versioned_hash import BatchWriter, Document, VersionedHash

ACCOUNTS_KEY = "accounts"
POSITIONS_KEY = "account_positions"

Balances = Mapping[str, Any]
Positions = Sequence[Mapping[str, Any]]


class AccountCache(RedisHolder):
    def __init__(
        self, redis: aioredis.Redis | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(redis)
        self._clock = clock
        self._accounts = VersionedHash(self._redis, ACCOUNTS_KEY)
        self._positions = VersionedHash(self._redis, POSITIONS_KEY)
        self._writer = BatchWriter(self._redis, (self._accounts, self._positions), clock=clock)

    async def apply_snapshots(
        self,
        balances: Mapping[int, Sequence[Update]],
        positions: Mapping[int, Sequence[Update]],
    ) -> tuple[dict[int, bool], dict[int, bool]]:
        """Balance and position updates of many accounts, newest exchange time wins (see
        ``latest_wins``). Balance content: currency -> balance (a mapping or an object with
        ``total``/``free``/``used``); position content: symbol -> position mapping, a flat one
        closing its symbol. A currency given without its free/used split keeps the ``used`` it
        had (see ``cache_shapes.complete_balance``). Per ``ex_id``: written, or skipped as stale."""
        written = await apply(
            self._writer,
            (_render_account, _render_positions),
            (balances, positions),
            clock=self._clock,
            combines=(shapes.combine_balances, None),
        )
        return written[0], written[1]

    # Balances

    async def upsert_user_account(
        self, ex_id: int, account: Balances, *, exchange_ms: int | None = None
    ) -> bool:
        """Replace the balances of ``ex_id``; ``False`` if a newer snapshot is stored."""
        written = await self.upsert_accounts_many({ex_id: account}, exchange_ms={ex_id: exchange_ms})
        return written[ex_id]

    async def upsert_accounts_many(
        self, accounts: Mapping[int, Balances], *, exchange_ms: Mapping[int, int | None] | None = None
    ) -> dict[int, bool]:
        """Replace several accounts in one call; per ``ex_id``, written or skipped as stale."""
        versions = exchange_ms or {}
        updates = {ex_id: [(versions.get(ex_id), False, b)] for ex_id, b in accounts.items()}
        return (await self.apply_snapshots(updates, {}))[0]

    async def merge_accounts_many(
        self, changes: Mapping[int, Balances], *, exchange_ms: Mapping[int, int | None] | None = None
    ) -> dict[int, bool]:
        """Partial balance updates: only the currencies given change (atomic per ``ex_id``)."""
        versions = exchange_ms or {}
        updates = {ex_id: [(versions.get(ex_id), True, b)] for ex_id, b in changes.items()}
        return (await self.apply_snapshots(updates, {}))[0]

    async def get_full_account(self, ex_id: int, currency: str) -> dict[str, Any] | None:
        document = await self._accounts.get(ex_id)
        entry = None if document is None else document.get(currency)
        return entry if isinstance(entry, dict) else None

    async def get_account(self, ex_id: int) -> dict[str, Any] | None:
        return await self._accounts.get(ex_id)

    async def get_all_accounts(self) -> dict[str, dict[str, Any]]:
        return await self._accounts.get_all()

    async def get_freshness(self, ex_id: int) -> float | None:
        """Epoch seconds of the last balance write for ``ex_id``; ``None`` if never written."""
        return await self._accounts.freshness(ex_id)

    # Positions

    async def upsert_positions(
        self, ex_id: int, positions: Positions, *, exchange_ms: int | None = None
    ) -> bool:
        """Replace the open positions of ``ex_id`` (an empty list deletes them)."""
        written = await self.upsert_positions_many({ex_id: positions}, exchange_ms={ex_id: exchange_ms})
        return written[ex_id]

    async def upsert_positions_many(
        self, positions: Mapping[int, Positions], *, exchange_ms: Mapping[int, int | None] | None = None
    ) -> dict[int, bool]:
        versions = exchange_ms or {}
        updates = {ex_id: [(versions.get(ex_id), False, by_symbol(p))] for ex_id, p in positions.items()}
        return (await self.apply_snapshots({}, updates))[1]

    async def merge_positions_many(
        self, changes: Mapping[int, Positions], *, exchange_ms: Mapping[int, int | None] | None = None
    ) -> dict[int, bool]:
        """Partial position updates: the symbols given change; a flat one is removed."""
        versions = exchange_ms or {}
        updates = {ex_id: [(versions.get(ex_id), True, by_symbol(p))] for ex_id, p in changes.items()}
        return (await self.apply_snapshots({}, updates))[1]

    async def get_positions(self, ex_id: int) -> list[dict[str, Any]]:
        """Open positions of ``ex_id`` only, each with ``symbol`` and ``ex_id`` (a string)."""
        document = await self._positions.get(ex_id)
        return [] if document is None else shapes.positions_list(str(ex_id), document)

    async def get_all_positions(self) -> dict[str, list[dict[str, Any]]]:
        return {
            ex_id: shapes.positions_list(ex_id, document)
            for ex_id, document in (await self._positions.get_all()).items()
        }

    async def get_positions_freshness(self, ex_id: int) -> float | None:
        return await self._positions.freshness(ex_id)


def by_symbol(positions: Positions) -> dict[str, Mapping[str, Any]]:
    """Position content keyed by symbol (a later entry for a symbol wins, as in a list)."""
    return {str(p["symbol"]): p for p in positions}


def _render_account(stored: Document | None, changed: Mapping[str, Any], now: float) -> Document:
    return shapes.merge_account(stored, changed, now)


def _render_positions(stored: Document | None, changed: Mapping[str, Any], now: float) -> Document | None:
    return shapes.positions_document(stored, list(changed.values()), now)
