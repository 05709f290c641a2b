"""History walks against fake venues that page the way the real ones do: whatever the backlog and
the page budget, successive reads cover every row, and the point a cursor may move to is never
past a row not yet read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fullon_account_service.producers.history import HistoryRead
from fullon_account_service.producers.venues import adapter_for
from fullon_account_service.producers.venues.bybit.history import WINDOW_MS as BYBIT_WINDOW_MS
from fullon_account_service.producers.venues.hyperliquid import history as hyperliquid_history
from fullon_account_service.producers.venues.kraken import history as kraken_history
from fullon_account_service.producers.walk import Walk, step

Row = dict[str, Any]


@dataclass
class _Ref:
    venue: str


@dataclass
class FakeVenue:
    """Rows at the given times; pages as ``venue`` does (see its adapter's ``history``)."""

    venue: str
    times: list[int]
    page: int
    calls: int = 0
    ref: _Ref = field(init=False)

    def __post_init__(self) -> None:
        self.ref = _Ref(self.venue)
        self.rows = [{"id": str(i), "timestamp": t, "info": {}} for i, t in enumerate(sorted(self.times))]

    async def call(
        self, method: str, symbol: Any, since: int | None, limit: Any, params: dict[str, Any]
    ) -> list[Row]:
        self.calls += 1
        if self.venue == "kraken":
            # start exclusive, end inclusive, both in whole seconds (start from ccxt's since or given)
            end = None if params.get("end") is None else params["end"] * 1000
            start = params["start"] if "start" in params else since // 1000
            chosen = [r for r in reversed(self.rows) if r["timestamp"] > start * 1000]
            chosen = [r for r in chosen if end is None or r["timestamp"] <= end]
            ofs = params["ofs"]
            return sorted(chosen[ofs : ofs + self.page], key=lambda r: r["timestamp"])
        if self.venue == "bybit":
            end = params.get("endTime", since + BYBIT_WINDOW_MS)
            assert end - since <= BYBIT_WINDOW_MS, "Bybit refuses a range over 7 days"
            if params.get("type") == "spot":
                return []
            chosen = [r for r in reversed(self.rows) if since <= r["timestamp"] <= end]
            start = int(params.get("cursor") or 0)
            page = [dict(r, info={}) for r in chosen[start : start + self.page]]
            if page and start + self.page < len(chosen):
                page[0]["info"] = {"nextPageCursor": str(start + self.page)}
            return page
        end = params.get("until")
        return [r for r in self.rows if r["timestamp"] >= since and (end is None or r["timestamp"] <= end)][
            : self.page
        ]


@contextmanager
def paged_like(venue: str, page: int) -> Iterator[None]:
    """The venue adapter's page size set to the fake's for the length of the block (Bybit's
    reader follows the venue's cursor and needs no size)."""
    module, name = {
        "kraken": (kraken_history, "PAGE"),
        "hyperliquid": (hyperliquid_history, "FILL_PAGE"),
    }.get(venue, (None, ""))
    if module is None:
        yield
        return
    saved = getattr(module, name)
    setattr(module, name, page)
    try:
        yield
    finally:
        setattr(module, name, saved)


async def _walk_all(venue: FakeVenue, since: int, now: int, max_pages: int) -> tuple[set[str], int]:
    """Cycles until the walk completes; checks the safe point each cycle; (ids read, cycles)."""
    walk: Walk | None = Walk(since)
    read_ids: set[str] = set()
    cycles = 0
    while walk is not None:
        cycles += 1
        assert cycles < 500, "the walk does not progress"
        fetch_fills = adapter_for(venue.venue).history.fetch_fills

        async def take(rows: list[Row]) -> None:
            read_ids.update(r["id"] for r in rows)

        read: HistoryRead = await fetch_fills(venue, walk.since_ms, walk.until_ms, now, max_pages, take)  # type: ignore[arg-type]
        outcome = step(walk, read, now)
        unread = [r["timestamp"] for r in venue.rows if r["id"] not in read_ids and r["timestamp"] >= since]
        if unread:
            assert outcome.safe_ms <= min(unread), "the cursor would pass an unread row"
        walk = outcome.next
        if walk is None and outcome.reached_ms is not None and outcome.reached_ms < now:
            walk = Walk(outcome.reached_ms)  # the cursor, with no overlap
    return read_ids, cycles


NOW = 100 * 24 * 3600 * 1000


@settings(max_examples=40, deadline=None)
@given(
    venue=st.sampled_from(["kraken", "bybit", "hyperliquid"]),
    seconds=st.lists(st.integers(1, 20 * 24 * 3600), min_size=0, max_size=120, unique=True),
    jitter=st.integers(0, 999),
    page=st.integers(2, 7),
    max_pages=st.integers(2, 4),
)
async def test_every_row_is_read_and_the_cursor_never_passes_a_gap(
    venue: str, seconds: list[int], jitter: int, page: int, max_pages: int
) -> None:
    """Rows in distinct seconds and a budget of 4 rows or more: no timestamp (no second on
    Kraken) holds a whole budget of rows, the one case a walk cannot progress (see history)."""
    since = NOW - 20 * 24 * 3600 * 1000
    fake = FakeVenue(venue, [since + s * 1000 + (s * jitter) % 1000 for s in seconds], page)
    with paged_like(venue, page):
        got, _ = await _walk_all(fake, since, NOW, max_pages)
    assert got == {r["id"] for r in fake.rows}


def test_a_complete_read_reaches_now_and_a_cut_newest_first_read_keeps_its_start() -> None:
    walk = Walk(1_000)
    done = step(walk, HistoryRead(complete=True), 9_000)
    assert done.next is None and done.reached_ms == 9_000
    cut = step(walk, HistoryRead(False, resume_from_ms=1_000, gap_until_ms=5_000, read_to_ms=9_000), 9_000)
    assert cut.safe_ms == 1_000 and cut.next == Walk(1_000, 5_000, 9_000)
    finished = step(cut.next, HistoryRead(complete=True), 12_000)
    assert finished.next is None and finished.reached_ms == 9_000


@pytest.mark.parametrize("read_to", [4_000, 9_000])
def test_a_cut_window_remembers_how_far_above_the_gap_was_read(read_to: int) -> None:
    cut = step(
        Walk(1_000),
        HistoryRead(False, resume_from_ms=2_000, gap_until_ms=3_000, read_to_ms=read_to),
        9_000,
    )
    assert cut.safe_ms == 2_000 and cut.next == Walk(2_000, 3_000, read_to)
