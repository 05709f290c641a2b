"""The final (terminal) state last queued for each order of one account, as a 64-bit digest.

``PublishedStates`` keeps full order states under a tight count bound, and a busy account closes
more orders between two audits than that bound holds; each audit then lists the dropped closed
orders again and their final states went out a second time (issue 18). This memory holds only a
digest (blake2b, 64 bits, of the order id and its state) per order, so it can hold many more.

"Latest wins" holds because the digest kept for an order is always that of the state last queued
for it: every queued state of the order replaces it (a state that is not final removes it), and a
read matches only when its state is exactly that one. A different fee, filled amount, average or
status never matches (up to a 64-bit digest collision, ~5e-20). Forgetting only lets a repeat
through: the memory is per process (a restarted producer publishes again), bounded in count
(the least recently read go first) and in age (an order not read again for ``max_age_s`` is gone
after between half of it and all of it: two generations, swapped every half).
"""

from __future__ import annotations

from collections.abc import Hashable
from hashlib import blake2b

import msgspec

MAX_ORDERS = 2_000
"""Closed orders remembered per account (~110 bytes each, ~220 KB at most): several audit windows
of a busy account's closed orders."""

_encode = msgspec.json.Encoder().encode


def _digest(order_id: str, state: Hashable) -> int:
    return int.from_bytes(blake2b(_encode((order_id, state)), digest_size=8).digest(), "little")


class FinalStates:
    def __init__(self, max_age_s: float, max_orders: int = MAX_ORDERS) -> None:
        self._half = max_age_s / 2
        self._max = max_orders
        self._current: dict[int, int] = {}
        self._previous: dict[int, int] = {}
        self._since: float | None = None

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)

    def repeats(self, order_id: str, state: Hashable, now: float) -> bool:
        """True if ``state`` is exactly the final state last queued for the order (refreshed)."""
        self._rotate(now)
        key = hash(order_id)
        known = self._current.pop(key, None)
        if known is None:
            known = self._previous.pop(key, None)
        if known is None:
            return False
        self._current[key] = known
        return known == _digest(order_id, state)

    def queued(self, order_id: str, final_state: Hashable | None, now: float) -> None:
        """The order's state just queued: its digest if final, else (``None``) no final state."""
        self._rotate(now)
        key = hash(order_id)
        self._current.pop(key, None)
        self._previous.pop(key, None)
        if final_state is not None:
            self._current[key] = _digest(order_id, final_state)
            while len(self) > self._max:
                oldest = self._previous if self._previous else self._current
                del oldest[next(iter(oldest))]

    def _rotate(self, now: float) -> None:
        if self._since is None:
            self._since = now
        elif now - self._since >= self._half:
            self._previous = self._current if now - self._since < 2 * self._half else {}
            self._current = {}
            self._since = now
