"""The immutable facts of an account's recent orders, to complete sparse WebSocket updates.

A venue's order stream may send an update with only what changed (Kraken's ``executions``
channel after the first message of an order). ccxt merges such an update into its cached copy of
the order only if the update names the symbol and the order is among its last ``ordersLimit``,
and the collector empties the raw payload of cached rows (``ws_backlog.drop_raw``); the
normaliser completes the update from the facts kept here, so it never depends on ccxt's cache.

Bounded twice, so a busy account costs no more than a quiet one: by count (the least recently
seen order goes first) and by age (facts not seen again for ``max_age_ms`` are forgotten). An
open order is listed again by every open-order read (each poll interval, 60 s by default), which
refreshes its facts well within the default 15 minutes. Forgetting never invents a field: a
sparse update about a forgotten order is held back and the REST reconciliation reports the order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

MAX_ORDERS = 500
MAX_AGE_MS = 900_000
IMMUTABLE_FIELDS = ("symbol", "side", "type", "amount", "price")
_UNKNOWN = (None, "")


class KnownOrders:
    def __init__(
        self, clock: Callable[[], int], *, max_orders: int = MAX_ORDERS, max_age_ms: int = MAX_AGE_MS
    ) -> None:
        self._clock = clock
        self._max = max_orders
        self._max_age_ms = max_age_ms
        self._facts: dict[str, tuple[Any, ...]] = {}
        """Order id -> the ``IMMUTABLE_FIELDS`` (None where unknown) then the last seen ms, least
        recently seen first. One flat tuple an order, not a dict of facts in a tuple: 500 orders
        cost an account ~131 KiB so, ~205 KiB that way, values included (issue 18)."""

    def __len__(self) -> int:
        return len(self._facts)

    def get(self, order_id: str) -> dict[str, Any]:
        self._expire()
        found = self._facts.get(order_id)
        if found is None:
            return {}
        return {f: v for f, v in zip(IMMUTABLE_FIELDS, found[:-1], strict=True) if v is not None}

    def learn(self, order_id: str, row: Mapping[str, Any]) -> None:
        """Remember the immutable facts ``row`` carries (added to those known before)."""
        facts = [row.get(f) for f in IMMUTABLE_FIELDS]
        if all(v in _UNKNOWN for v in facts):
            return
        known = self._facts.pop(order_id, None)
        if known is not None:
            facts = [old if new in _UNKNOWN else new for new, old in zip(facts, known[:-1], strict=True)]
        else:
            facts = [None if v in _UNKNOWN else v for v in facts]
        self._facts[order_id] = (*facts, self._clock())
        while len(self._facts) > self._max:
            self._facts.pop(next(iter(self._facts)))

    def _expire(self) -> None:
        horizon = self._clock() - self._max_age_ms
        while self._facts:
            order_id, known = next(iter(self._facts.items()))
            if known[-1] >= horizon:
                return
            del self._facts[order_id]
