"""The final (terminal) state last queued for each order of one account, as a 64-bit digest.

``PublishedStates`` keeps the full states of open orders under a tight count bound; a busy
account closes more orders between two audits than that bound holds, and each audit lists the
closed orders again, whose final states went out a second time once dropped (issue 18). So a
closed order's state lives here alone, as a digest (blake2b, 64 bits, of the order id and its
state), 16 bytes an order with its key (``IntMap``), so it holds every order an audit can list
again: at saturation an audit re-reads a minute or more of closed orders, thousands per account.

"Latest wins" holds because the digest kept for an order is always that of the state last queued
for it: every queued state of the order replaces it (a state that is not final removes it), and a
read matches only when its state is exactly that one. A different fee, filled amount, average or
status never matches (up to a 64-bit digest collision, ~5e-20). Forgetting only lets a repeat
through: the memory is per process (a restarted producer publishes again) and kept in two
generations, the current one replacing the previous when it holds half the count bound or is half
the age bound old. So the orders queued last (at least half the count bound of them, within the
age bound) are always known, and an order not queued again for ``max_age_s`` is gone. A read does
not refresh an order: a closed order is listed again only while audits reach back to it.
"""

from __future__ import annotations

from collections.abc import Hashable
from hashlib import blake2b

import msgspec

from fullon_account_service.producers.int_map import IntMap

MAX_ORDERS = 16_000
"""Closed orders remembered per account (16 bytes each, ~260 KB when full): the last 8,000 at
least, more than an audit re-reads on a busy account at the e2e bench's saturation."""

_encode = msgspec.json.Encoder().encode


def _digest(order_id: str, state: Hashable) -> int:
    return int.from_bytes(blake2b(_encode((order_id, state)), digest_size=8).digest(), "little", signed=True)


class FinalStates:
    def __init__(self, max_age_s: float, max_orders: int = MAX_ORDERS) -> None:
        self._half = max_age_s / 2
        self._max = max_orders
        self._current = IntMap()
        self._previous = IntMap()
        self._since: float | None = None

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)

    def repeats(self, order_id: str, state: Hashable, now: float) -> bool:
        """True if ``state`` is exactly the final state last queued for the order."""
        self._rotate(now)
        key = hash(order_id)
        known = self._current.get(key)
        if known is None:
            known = self._previous.get(key)
        return known is not None and known == _digest(order_id, state)

    def queued(self, order_id: str, final_state: Hashable | None, now: float) -> None:
        """The order's state just queued: its digest if final, else (``None``) no final state."""
        self._rotate(now)
        key = hash(order_id)
        self._previous.remove(key)
        if final_state is None:
            self._current.remove(key)
        else:
            self._current.put(key, _digest(order_id, final_state))
            if len(self._current) > self._max // 2:
                self._previous, self._current = self._current, IntMap()

    def _rotate(self, now: float) -> None:
        if self._since is None:
            self._since = now
        elif now - self._since >= self._half:
            self._previous = self._current if now - self._since < 2 * self._half else IntMap()
            self._current = IntMap()
            self._since = now
