"""The ``cache`` consumer group: balances and positions into AccountCache, latest wins.

A batch is folded per ex_id and kind before anything is written, so a burst of snapshots costs
one write per account, in a handful of pipelines for the whole batch:

- every snapshot is dated by its exchange time (``exchange_ms``; the receive time when the venue
  gave none); snapshots older than the one stored for that account are dropped, ties are kept
  (a replay rewrites the same thing);
- the last complete snapshot replaces the account, and partial ones after it are laid over it;
  partial ones with no complete one before them in the batch are merged into the stored
  account (a compare-and-set in AccountCache, so two sinks merging at once both land);
- a complete position snapshot with nothing open, or a partial one closing the last open
  symbol, deletes the account's positions field.

The stored time is re-checked atomically at write time, so a newer snapshot written by another
consumer is never overwritten by an older one. The one window left: a partial update older than
a complete snapshot that another consumer stores between this batch's time read and its write
is still merged over it (until that account's next snapshot).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rex

from fullon_account_service.bus.consumer import Delivery
from fullon_account_service.bus.redis_errors import translate
from fullon_account_service.contract.events import BalanceSnapshot, Envelope, PositionSnapshot
from fullon_account_service.errors import ContractError
from fullon_account_service.sinks.accounts import KnownAccounts
from fullon_account_service.storage.account_cache import ACCOUNTS_KEY, POSITIONS_KEY, AccountCache
from fullon_account_service.storage.cache_shapes import position_from_contract
from fullon_account_service.storage.redis_calls import awaited
from fullon_account_service.storage.versioned_hash import version_key

GROUP = "cache"
KINDS = ("balance", "position")


@dataclass(slots=True)
class Folded:
    """What a batch leaves of one account's snapshots of one kind."""

    replace: bool = False
    content: dict[str, Any] = field(default_factory=dict)
    exchange_ms: int = -1


def event_ms(envelope: Envelope) -> int:
    return envelope.exchange_ms if envelope.exchange_ms is not None else envelope.received_ms


def fold(snapshots: Sequence[tuple[int, bool, Mapping[str, Any]]], stored_ms: int | None) -> Folded | None:
    """``(exchange_ms, partial, content)`` in arrival order -> the one write they amount to."""
    live = sorted((s for s in snapshots if stored_ms is None or s[0] >= stored_ms), key=lambda s: s[0])
    if not live:
        return None
    folded = Folded(exchange_ms=live[-1][0])
    for _, partial, content in live:
        if not partial:
            folded.replace = True
            folded.content = {}
        folded.content.update(content)
    return folded


def _balances(payload: BalanceSnapshot) -> dict[str, Any]:
    return dict(payload.balances)


def _positions(payload: PositionSnapshot, ms: int) -> dict[str, Any]:
    return {p.symbol: position_from_contract(p, ms / 1000.0) for p in payload.positions}


class CacheSink:
    def __init__(self, redis: aioredis.Redis, cache: AccountCache, known: KnownAccounts) -> None:
        self._redis = redis
        self._cache = cache
        self._known = known

    async def handle(self, deliveries: Sequence[Delivery]) -> None:
        balances: defaultdict[int, list[tuple[int, bool, Mapping[str, Any]]]] = defaultdict(list)
        positions: defaultdict[int, list[tuple[int, bool, Mapping[str, Any]]]] = defaultdict(list)
        for delivery in deliveries:
            envelope = delivery.envelope
            ms = event_ms(envelope)
            match envelope.payload:
                case BalanceSnapshot() as snap:
                    balances[envelope.ex_id].append((ms, snap.partial, _balances(snap)))
                case PositionSnapshot() as snap:
                    positions[envelope.ex_id].append((ms, snap.partial, _positions(snap, ms)))
                case _:
                    raise ContractError(f"{envelope.kind} event delivered to the cache sink")
        unknown = await self._known.unknown({*balances, *positions})
        if unknown:
            raise ContractError(f"events for unknown ex_id {sorted(unknown)}")
        stored_balance_ms = await self._stored_ms(ACCOUNTS_KEY, list(balances))
        stored_position_ms = await self._stored_ms(POSITIONS_KEY, list(positions))
        accounts = {ex_id: fold(items, stored_balance_ms.get(ex_id)) for ex_id, items in balances.items()}
        books = {ex_id: fold(items, stored_position_ms.get(ex_id)) for ex_id, items in positions.items()}
        await self._write_accounts({k: v for k, v in accounts.items() if v is not None})
        await self._write_positions({k: v for k, v in books.items() if v is not None})

    async def _stored_ms(self, key: str, ex_ids: list[int]) -> dict[int, int]:
        """Exchange time of each account's stored snapshot (absent: never written)."""
        if not ex_ids:
            return {}
        try:
            raw: list[bytes | None] = await awaited(
                self._redis.hmget(version_key(key), [str(i) for i in ex_ids])
            )
        except rex.RedisError as e:
            raise translate(e, "read snapshot times") from e
        return {ex_id: int(value) for ex_id, value in zip(ex_ids, raw, strict=True) if value is not None}

    async def _write_accounts(self, folded: dict[int, Folded]) -> None:
        replace = {ex_id: f for ex_id, f in folded.items() if f.replace}
        merge = {ex_id: f for ex_id, f in folded.items() if not f.replace}
        if replace:
            await self._cache.upsert_accounts_many(
                {ex_id: f.content for ex_id, f in replace.items()},
                exchange_ms={ex_id: f.exchange_ms for ex_id, f in replace.items()},
            )
        if merge:
            await self._cache.merge_accounts_many(
                {ex_id: f.content for ex_id, f in merge.items()},
                exchange_ms={ex_id: f.exchange_ms for ex_id, f in merge.items()},
            )

    async def _write_positions(self, folded: dict[int, Folded]) -> None:
        replace = {ex_id: f for ex_id, f in folded.items() if f.replace}
        merge = {ex_id: f for ex_id, f in folded.items() if not f.replace}
        if replace:
            await self._cache.upsert_positions_many(
                {ex_id: list(f.content.values()) for ex_id, f in replace.items()},
                exchange_ms={ex_id: f.exchange_ms for ex_id, f in replace.items()},
            )
        if merge:
            await self._cache.merge_positions_many(
                {ex_id: list(f.content.values()) for ex_id, f in merge.items()},
                exchange_ms={ex_id: f.exchange_ms for ex_id, f in merge.items()},
            )
