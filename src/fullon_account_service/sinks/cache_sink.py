"""The ``cache`` consumer group: balances and positions into AccountCache, latest wins.

A batch is grouped per ex_id and kind, and each group cut to its newest run (the last complete
snapshot and the partial ones after it, in exchange-time order: anything older cannot matter).
``AccountCache.apply_snapshots`` then folds each group into one write and sends the whole batch,
both hashes, in one script call (see ``storage.latest_wins``):

- every snapshot is dated by its exchange time (``exchange_ms``; the receive time when the venue
  gave none); snapshots older than the one stored for that account are dropped, ties are kept
  (a replay rewrites the same thing);
- the last complete snapshot replaces the account and the partial ones after it are laid over it,
  in order; partial ones with no complete one before them in the batch are merged into the stored
  account (a compare-and-set, so two sinks merging at once both land);
- a complete position snapshot with nothing open, or a partial one closing the last open
  symbol, deletes the account's positions field.

The stored time is checked atomically at write time, against the complete snapshot a write
starts from, so a newer snapshot written by another consumer is never overwritten by an older one,
and partial snapshots newer than it are merged over it instead.

Every balance event's totals are also recorded as balance anchors (``storage.balance_anchors``,
when the sink is given the store), after the cache write: a crash between the two redelivers the
batch, and both writes are idempotent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fullon_account_service.bus.consumer import Delivery
from fullon_account_service.contract.events import BalanceSnapshot, Envelope, PositionSnapshot
from fullon_account_service.errors import ContractError
from fullon_account_service.sinks import groups
from fullon_account_service.sinks.accounts import KnownAccounts
from fullon_account_service.storage.account_cache import AccountCache
from fullon_account_service.storage.balance_anchors import BalanceAnchors
from fullon_account_service.storage.cache_shapes import position_from_contract
from fullon_account_service.storage.latest_wins import Update, newest_run

GROUP = groups.CACHE
KINDS = ("balance", "position")

Received = tuple[int, bool, Any]
"""``(exchange_ms, partial, payload)`` before the payload is turned into cache content."""


def event_ms(envelope: Envelope) -> int:
    return envelope.exchange_ms if envelope.exchange_ms is not None else envelope.received_ms


def _balances(payload: BalanceSnapshot, ms: int) -> Mapping[str, Any]:
    return payload.balances


def _positions(payload: PositionSnapshot, ms: int) -> dict[str, Any]:
    return {p.symbol: position_from_contract(p, ms / 1000.0) for p in payload.positions}


def _contents(
    groups: Mapping[int, list[Received]], content: Callable[[Any, int], Mapping[str, Any]]
) -> dict[int, list[Update]]:
    """Each account's newest run, payloads turned into content only for the snapshots kept."""
    return {
        ex_id: [(ms, partial, content(payload, ms)) for ms, partial, payload in newest_run(items)]
        for ex_id, items in groups.items()
    }


class CacheSink:
    def __init__(
        self, cache: AccountCache, known: KnownAccounts, anchors: BalanceAnchors | None = None
    ) -> None:
        self._cache = cache
        self._known = known
        self._anchors = anchors

    async def handle(self, deliveries: Sequence[Delivery]) -> None:
        balances: defaultdict[int, list[Received]] = defaultdict(list)
        positions: defaultdict[int, list[Received]] = defaultdict(list)
        for delivery in deliveries:
            envelope = delivery.envelope
            match envelope.payload:
                case BalanceSnapshot() as snap:
                    balances[envelope.ex_id].append((event_ms(envelope), snap.partial, snap))
                case PositionSnapshot() as snap:
                    positions[envelope.ex_id].append((event_ms(envelope), snap.partial, snap))
                case _:
                    raise ContractError(f"{envelope.kind} event delivered to the cache sink")
        unknown = await self._known.unknown({*balances, *positions})
        if unknown:
            raise ContractError(f"events for unknown ex_id {sorted(unknown)}")
        await self._cache.apply_snapshots(_contents(balances, _balances), _contents(positions, _positions))
        if self._anchors is not None:
            await self._anchors.record(
                (ex_id, ms, {cur: row.total for cur, row in snap.balances.items()})
                for ex_id, items in balances.items()
                for ms, _, snap in items
            )
