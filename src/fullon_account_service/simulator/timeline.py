"""Indexes over an account's history, which only grows, for the venues' REST pages.

The producer pages fills, ledger entries and closed orders over REST after every burst; at
10,000 fills per account a scan of the whole history per request made the simulator, not the
producer, the memory bench's limit (bench/RESULTS.md, "h4, stop 24"). The ledger stamps an
account's events with a clock strictly increasing per account and appends fills and ledger
entries as they happen, so those lists are already in time order: a window is found by bisecting.
``TimeOrder`` checks that order as the lists grow (each row once); a list that ever falls out of it
is scanned per call as before, with the same rows. Orders are not appended in the order they close,
so ``FinalOrders`` keeps those that reached a final state (they never change again) sorted by
their last update, and the others apart; ``FillsByOrder`` keeps each order's fills.

Every index is told apart by the identity of the list or dict it reads (an account's history lives
as long as the venue's app, which owns the index) and starts again if that shrank.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from fullon_account_service.simulator.model import SimFill, SimOrder


class Timed(Protocol):
    @property
    def ts_ms(self) -> int: ...


R = TypeVar("R", bound=Timed)


class TimeOrder:
    """Whether each list of rows is still in strictly rising ``ts_ms`` order, checked as it grows."""

    def __init__(self) -> None:
        self._checked: dict[int, tuple[int, bool]] = {}

    def holds(self, rows: Sequence[Timed]) -> bool:
        upto, ok = self._checked.get(id(rows), (0, True))
        if upto > len(rows):  # not the list last seen under this identity
            upto, ok = 0, True
        i = max(upto, 1)
        while ok and i < len(rows):
            ok = rows[i - 1].ts_ms < rows[i].ts_ms
            i += 1
        self._checked[id(rows)] = (len(rows), ok)
        return ok


def _seconds(row: Timed) -> float:
    return row.ts_ms / 1000


def in_window(t: float, start: float | None, end: float | None) -> bool:
    """Kraken's window: ``start`` exclusive, ``end`` inclusive, either open."""
    return (start is None or t > start) and (end is None or t <= end)


def window_s(rows: Sequence[R], start: float | None, end: float | None, in_order: bool) -> Sequence[R]:
    """The rows whose time in seconds is ``in_window``, oldest first; ``in_order``: ``rows`` rise
    strictly in time (``TimeOrder``), so the window is two bisections, not a scan."""
    if not in_order:
        return [r for r in rows if in_window(_seconds(r), start, end)]
    lo = 0 if start is None else bisect_right(rows, start, key=_seconds)
    hi = len(rows) if end is None else bisect_right(rows, end, key=_seconds)
    return rows[lo : max(lo, hi)]


@dataclass(slots=True)
class _Final:
    seen: int = 0
    """How many of the dict's orders (in insertion order) were looked at."""
    pending: list[tuple[int, SimOrder]] = field(default_factory=list)
    """(position, order) of those still open when last looked at."""
    keys: list[tuple[float, int]] = field(default_factory=list)
    """(last update in seconds, -position) of each final order, rising."""
    orders: list[SimOrder] = field(default_factory=list)
    """The final orders, in the order of ``keys``."""


class FinalOrders:
    """An account's orders that left ``open``, by last update: a final order is never updated again
    (a fill, a cancel, a trigger all need an open order), so its place in the index is fixed."""

    def __init__(self) -> None:
        self._of: dict[int, _Final] = {}

    def since(self, orders: dict[str, SimOrder], start: float | None) -> list[SimOrder]:
        """The final orders updated after ``start`` (seconds, exclusive; every one if ``None``),
        newest first; orders updated at the same time in the dict's order."""
        state = self._update(orders)
        lo = 0 if start is None else bisect_right(state.keys, (start, 1))
        return state.orders[lo:][::-1]

    def still_open(self, orders: dict[str, SimOrder]) -> list[SimOrder]:
        """The orders not final yet, in the dict's order: what is left once the final ones are out."""
        return [order for _, order in self._update(orders).pending]

    def _update(self, orders: dict[str, SimOrder]) -> _Final:
        state = self._of.get(id(orders))
        if state is None or state.seen > len(orders):
            state = self._of[id(orders)] = _Final()
        fresh = list(orders.values())[state.seen :]
        candidates = state.pending + list(enumerate(fresh, start=state.seen))
        state.seen, state.pending = len(orders), []
        for position, order in candidates:
            if order.status == "open":
                state.pending.append((position, order))
                continue
            key = (order.updated_ms / 1000, -position)
            at = bisect_right(state.keys, key)
            state.keys.insert(at, key)
            state.orders.insert(at, order)
        return state


class FillsByOrder:
    """Each order's fills, in the account's fill order, read incrementally from its fill list."""

    def __init__(self) -> None:
        self._of: dict[int, tuple[int, dict[str, list[SimFill]]]] = {}

    def of(self, fills: Sequence[SimFill]) -> Callable[[str], Sequence[SimFill]]:
        seen, by_order = self._of.get(id(fills), (0, {}))
        if seen > len(fills):
            seen, by_order = 0, {}
        for fill in fills[seen:]:
            by_order.setdefault(fill.order_id, []).append(fill)
        self._of[id(fills)] = (len(fills), by_order)
        return lambda order_id: by_order.get(order_id, ())
