"""Where the next read of a history starts after a read that may have been cut short.

A ``Walk`` is the span the next cycle reads. After a complete read the history is known up to a
point (``Step.reached_ms``); after a cut one, the next walk covers the gap the read left
(``HistoryRead``), and ``Step.safe_ms`` is the point before which every row was read, the only
place a cursor may move to. A newest-first venue cut short leaves its gap at the bottom: the next
walk reads ``[since, gap]`` and only once that is done is the history known up to where the cut
read reached.
"""

from __future__ import annotations

from dataclasses import dataclass

from fullon_account_service.producers.cursor import CursorStore
from fullon_account_service.producers.history import HistoryRead


@dataclass(frozen=True, slots=True)
class Walk:
    """Read ``[since_ms, until_ms]`` next (``until_ms`` ``None``: up to now). With an
    ``until_ms``, ``done_to_ms`` is how far the history is read once this span is."""

    since_ms: int
    until_ms: int | None = None
    done_to_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """The outcome of one read: the walk to continue (``None``: the span is read), the point
    before which every row was read, and how far the history is read when complete."""

    next: Walk | None
    safe_ms: int
    reached_ms: int | None


def step(walk: Walk, read: HistoryRead, started_ms: int) -> Step:
    """``started_ms``: when the read began (the end of a span without ``until_ms``)."""
    end = walk.until_ms if walk.until_ms is not None else started_ms
    done_to = walk.done_to_ms if walk.until_ms is not None and walk.done_to_ms is not None else end
    if read.complete:
        return Step(None, walk.since_ms, done_to)
    resume = max(read.resume_from_ms if read.resume_from_ms is not None else walk.since_ms, walk.since_ms)
    if read.gap_until_ms is None:
        return Step(Walk(resume, walk.until_ms, walk.done_to_ms), resume, None)
    read_to = read.read_to_ms if read.read_to_ms is not None else read.gap_until_ms
    above = done_to if read_to >= end else read_to
    return Step(Walk(resume, max(read.gap_until_ms, resume), above), resume, None)


async def from_cursor(
    store: CursorStore, ex_id: int, started_ms: int, overlap_ms: int, lookback_ms: int
) -> Walk:
    """The first walk of a history: from ``store``'s cursor for ``ex_id`` minus the overlap; from
    the lookback before ``started_ms`` without one."""
    cursor = await store.get(ex_id)
    if cursor is not None:
        return Walk(max(cursor - overlap_ms, 0))
    return Walk(max(started_ms - lookback_ms - overlap_ms, 0))
