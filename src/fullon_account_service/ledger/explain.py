"""Balance explained: between two balance snapshots, what moved the balance, and what is left.

For one account and currency, a window runs from an anchor (a balance total with its time) to
the next: ``after - before`` must equal the sum of the flows (``ledger.cashflow``: fills' cash,
fees, ledger entries) dated in ``(t0, t1]``. What is left is the *unexplained remainder*; it is
zero within ``tolerance`` (float noise relative to the amounts moved) unless a fill or a ledger
entry is missing, extra or wrong.

An anchor's time is the venue's time of the snapshot where it gives one, else the time the
producer received it, so a fill a moment before it may or may not be in its total. An anchor is
used only when it is *clear*: no flow of its currency is dated within ``band_ms`` of it (either
side); a balance that moved while it was read would otherwise count a fill on the wrong side.
Two snapshots at the same time with different totals are not clear either. Windows join
consecutive clear anchors, so a busy moment widens a window instead of blurring it.
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from fullon_account_service.ledger.cashflow import Flow

ABS_TOLERANCE = 1e-7
REL_TOLERANCE = 1e-12
"""A remainder within ``ABS_TOLERANCE + REL_TOLERANCE x (|before| + |after| + sum |flows|)`` is
zero: the venues state balances to 8 decimals (two anchors, each rounded, plus the flows' own
rounding stay well under 1e-7), floats add ~1e-16 relative per operation."""


@dataclass(frozen=True, slots=True)
class Anchor:
    time_ms: int
    total: float


@dataclass(frozen=True, slots=True)
class Window:
    currency: str
    t0_ms: int
    t1_ms: int
    before: float
    after: float
    explained: float
    flows: int
    tolerance: float

    @property
    def remainder(self) -> float:
        return (self.after - self.before) - self.explained

    @property
    def ok(self) -> bool:
        return abs(self.remainder) <= self.tolerance


def clear_anchors(anchors: Iterable[Anchor], flow_times: Sequence[int], band_ms: int) -> list[Anchor]:
    """The anchors no flow (``flow_times``, sorted) comes within ``band_ms`` of, oldest first."""
    by_time: dict[int, set[float]] = defaultdict(set)
    for anchor in anchors:
        by_time[anchor.time_ms].add(anchor.total)
    clear: list[Anchor] = []
    for time_ms, totals in sorted(by_time.items()):
        if len(totals) != 1:
            continue
        lo = bisect.bisect_left(flow_times, time_ms - band_ms)
        if lo < len(flow_times) and flow_times[lo] <= time_ms + band_ms:
            continue
        clear.append(Anchor(time_ms, next(iter(totals))))
    return clear


def explain_currency(
    currency: str, anchors: Iterable[Anchor], flows: Iterable[Flow], *, band_ms: int
) -> list[Window]:
    """The windows of one currency (``flows`` of other currencies are ignored)."""
    mine = sorted((f for f in flows if f.currency == currency), key=lambda f: f.time_ms)
    times = [f.time_ms for f in mine]
    windows: list[Window] = []
    for start, end in itertools.pairwise(clear_anchors(anchors, times, band_ms)):
        moved = turnover = 0.0
        first, last = bisect.bisect_right(times, start.time_ms), bisect.bisect_right(times, end.time_ms)
        for flow in mine[first:last]:
            moved += flow.amount
            turnover += abs(flow.amount)
        scale = abs(start.total) + abs(end.total) + turnover
        tolerance = ABS_TOLERANCE + REL_TOLERANCE * scale
        span = (start.time_ms, end.time_ms, start.total, end.total)
        windows.append(Window(currency, *span, moved, last - first, tolerance))
    return windows


def explain(anchors: Mapping[str, Iterable[Anchor]], flows: Sequence[Flow], *, band_ms: int) -> list[Window]:
    """Every window of every currency with anchors, by currency then time."""
    by_currency: dict[str, list[Flow]] = defaultdict(list)
    for flow in flows:
        by_currency[flow.currency].append(flow)
    windows: list[Window] = []
    for currency in sorted(anchors):
        mine = by_currency.get(currency, [])
        windows += explain_currency(currency, anchors[currency], mine, band_ms=band_ms)
    return windows
