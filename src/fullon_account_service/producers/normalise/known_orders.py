"""The immutable facts of an account's recent orders, to complete sparse WebSocket updates.

A venue's order stream may send an update with only what changed (Kraken's ``executions``
channel after the first message of an order). ccxt merges such an update into its cached copy of
the order only if the update names the symbol and the order is among its last ``ordersLimit``,
and the collector empties the raw payload of cached rows (``ws_backlog.drop_raw``); the
normaliser completes the update from the facts kept here, so it never depends on ccxt's cache.

An order whose final (terminal) state was read can get no change, only a late copy of an update
racing that read (Hyperliquid's stream names no order type, which a REST read of the closed order
taught): its facts are kept apart for ``FINAL_AGE_MS`` only, and go first when the count bound is
reached. A busy account at rest otherwise kept its last 500 closed orders here for 15 minutes
(~130 KiB with their ids and values; bench/RESULTS.md "h2, stop 25"). The time bounds are applied
at each read and by the daemon's upkeep (``expire``), so they hold at rest too, when no order row
comes to apply them.

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
FINAL_AGE_MS = 60_000
"""Longer than a stream's update takes to arrive after a REST read listed the same final state
(milliseconds; seconds in a backlog). The count bound held ~30 s of closed orders at the e2e
bench's saturation (500 orders, ~1,000 closed a minute) before this bound existed."""
IMMUTABLE_FIELDS = ("symbol", "side", "type", "amount", "price")
_UNKNOWN = (None, "")


class KnownOrders:
    def __init__(
        self,
        clock: Callable[[], int],
        *,
        max_orders: int = MAX_ORDERS,
        max_age_ms: int = MAX_AGE_MS,
        final_age_ms: int = FINAL_AGE_MS,
    ) -> None:
        self._clock = clock
        self._max = max_orders
        self._max_age_ms = max_age_ms
        self._final_age_ms = final_age_ms
        self._facts: dict[str, tuple[Any, ...]] = {}
        """Order id -> the ``IMMUTABLE_FIELDS`` (None where unknown) then the last seen ms, least
        recently seen first. One flat tuple an order, not a dict of facts in a tuple: 500 orders
        cost an account ~131 KiB so, ~205 KiB that way, values included (issue 18)."""
        self._final: dict[str, tuple[Any, ...]] = {}
        """The same, for orders whose final state was seen."""

    def __len__(self) -> int:
        return len(self._facts) + len(self._final)

    def get(self, order_id: str) -> dict[str, Any]:
        self.expire()
        found = self._facts.get(order_id) or self._final.get(order_id)
        if found is None:
            return {}
        return {f: v for f, v in zip(IMMUTABLE_FIELDS, found[:-1], strict=True) if v is not None}

    def learn(self, order_id: str, row: Mapping[str, Any], *, final: bool = False) -> None:
        """Remember the immutable facts ``row`` carries (added to those known before); ``final``:
        the row is the order's final state."""
        facts = [row.get(f) for f in IMMUTABLE_FIELDS]
        if all(v in _UNKNOWN for v in facts):
            return
        known = self._facts.pop(order_id, None) or self._final.pop(order_id, None)
        if known is not None:
            facts = [old if new in _UNKNOWN else new for new, old in zip(facts, known[:-1], strict=True)]
        else:
            facts = [None if v in _UNKNOWN else v for v in facts]
        (self._final if final else self._facts)[order_id] = (*facts, self._clock())
        while len(self) > self._max:
            oldest = self._final or self._facts
            oldest.pop(next(iter(oldest)))

    def expire(self) -> None:
        """Forget the facts past their age bound."""
        now = self._clock()
        _expire(self._facts, now - self._max_age_ms)
        _expire(self._final, now - self._final_age_ms)
        if not self._final:
            self._final = {}  # an emptied dict keeps its table (~20 KiB after 500 orders)


def _expire(facts: dict[str, tuple[Any, ...]], horizon: int) -> None:
    while facts:
        order_id, known = next(iter(facts.items()))
        if known[-1] >= horizon:
            return
        del facts[order_id]
