"""A history read (fills, closed orders) hands its pages over one at a time: each page is on the
bus before the next is read, and a producer that dies after page k (its memory gone, the Redis
cursor kept) leaves the cursor at or before the oldest row not on the bus, so the restarted one
skips nothing.

Fake venues page the way the real ones do (``test_history_walk.FakeVenue``); the normaliser,
reconciler, cursor store and open-order book are the real ones, on the backend under test.
"""

from __future__ import annotations

import asyncio
import itertools
import weakref
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_history_walk import NOW, FakeVenue, paged_like

from fullon_account_service.contract import Envelope, Source, TradeFill
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.clock_skew import ClockSkew
from fullon_account_service.producers.cursor import CursorStore
from fullon_account_service.producers.normalise import DeadPayload, Normaliser
from fullon_account_service.producers.open_orders import OpenOrderBook
from fullon_account_service.producers.reconcile import Reconciler
from fullon_account_service.producers.session import AccountSession

SYMBOL = "BTC/USDT"
PREFIX = "test:pages:"
_ex_ids = itertools.count(1)


class Crash(Exception):
    """The producer dies while publishing."""


@dataclass
class Bus:
    """The outbox's publish: records the fills that reached the bus, dies on page ``crash_at``."""

    crash_at: int | None = None
    pages: int = 0
    rows: set[str] = field(default_factory=set)
    """Fill ids and ids of orders published closed."""
    largest_page: int = 0

    async def publish(self, envelopes: list[Envelope], dead: list[DeadPayload]) -> None:
        assert not dead, dead
        if not envelopes:
            return  # an empty open-order list
        self.pages += 1
        if self.crash_at is not None and self.pages >= self.crash_at:
            raise Crash(f"killed while publishing page {self.pages}")
        self.largest_page = max(self.largest_page, len(envelopes))
        for e in envelopes:
            p = e.payload
            self.rows.add(p.ex_trade_id if isinstance(p, TradeFill) else str(getattr(p, "ex_order_id", "")))


def _fill_rows(venue: FakeVenue) -> None:
    """Turn the fake's rows into ccxt trade rows the real normaliser accepts."""
    for row in venue.rows:
        row.update(order=f"O{row['id']}", symbol=SYMBOL, side="buy", price=100.0, amount=1.0)


def _order_rows(venue: FakeVenue) -> None:
    """Turn the fake's rows into closed ccxt orders (Kraken pages them by closing time)."""
    for row in venue.rows:
        row.update(symbol=SYMBOL, side="buy", type="limit", price=100.0, amount=1.0, filled=1.0)
        row.update(status="closed", info={"closetm": row["timestamp"] / 1000})


class _Session(AccountSession):
    """A session whose REST calls go to a fake venue."""

    fake: FakeVenue

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if method == "fetch_open_orders":
            return []
        return await self.fake.call(method, *args)


def _session(venue: FakeVenue, ex_id: int, cls: type[_Session] = _Session) -> AccountSession:
    ref = AccountRef(ex_id=ex_id, uid=1, venue=venue.venue)
    client = type("Client", (), {"has": {"fetchCanceledAndClosedOrders": True}, "markets": {}})()
    session = cls(ref, client, Normaliser(ref, {SYMBOL}, str), asyncio.Lock())
    session.fake = venue
    return session


def _reconciler(redis: aioredis.Redis, bus: Bus, max_pages: int) -> Reconciler:
    return Reconciler(
        bus,  # type: ignore[arg-type]
        CursorStore(redis, prefix=PREFIX),
        OpenOrderBook(redis, prefix=PREFIX),
        skew=ClockSkew(0),
        clock_ms=lambda: NOW,
        max_pages=max_pages,
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(["fills", "orders"]),
    venue=st.sampled_from(["kraken", "bybit", "hyperliquid"]),
    seconds=st.lists(st.integers(1, 20 * 24 * 3600), min_size=1, max_size=80, unique=True),
    page=st.integers(2, 7),
    max_pages=st.integers(2, 4),
    jitter=st.integers(0, 999),
    crash_at=st.integers(1, 12),
)
async def test_a_crash_after_any_page_leaves_the_cursor_before_every_fill_not_on_the_bus(
    redis_client: aioredis.Redis,
    kind: str,
    venue: str,
    seconds: list[int],
    page: int,
    max_pages: int,
    jitter: int,
    crash_at: int,
) -> None:
    """Rows in distinct seconds (see ``test_history_walk``; Hyperliquid's closed orders are one
    call of the newest 2,000, not paged, so not here); the first producer dies while publishing
    page ``crash_at`` (counted over its cycles) unless its walk is over first."""
    since = NOW - 20 * 24 * 3600 * 1000
    fake = FakeVenue(venue, [since + s * 1000 + (s * jitter) % 1000 for s in seconds], page)
    assume(kind == "fills" or venue != "hyperliquid")
    (_fill_rows if kind == "fills" else _order_rows)(fake)
    ex_id = next(_ex_ids)
    fill_cursors = CursorStore(redis_client, prefix=PREFIX)
    cursors = fill_cursors if kind == "fills" else fill_cursors.named("order_cursor")
    await cursors.advance(ex_id, since)
    bus = Bus(crash_at=crash_at)
    with paged_like(venue, page):
        first, session = _reconciler(redis_client, bus, max_pages), _session(fake, ex_id)
        for _ in range(crash_at + 1):
            try:
                await _read(first, session, kind)
            except Crash:
                break
        cursor = await cursors.get(ex_id)
        unpublished = [r["timestamp"] for r in fake.rows if r["id"] not in bus.rows]
        if cursor is not None:
            assert cursor <= min(unpublished, default=cursor), "the cursor passed a row not on the bus"
        assert bus.largest_page <= page, "a page handed over more rows than one venue page"

        bus.crash_at = None
        again = _reconciler(redis_client, bus, max_pages)
        session = _session(fake, ex_id)
        for _ in range(500):
            # a cut read asks for the next cycle; a complete one may stop short of now (the end
            # of a gap's window) and the next audit reads on from the cursor
            await _read(again, session, kind)
            asked = session.wake_poller.is_set() or session.rest_once
            if not asked and (await cursors.get(ex_id) or 0) >= NOW:
                break
            session.wake_poller.clear()
            session.rest_once.clear()
    assert bus.rows == {r["id"] for r in fake.rows}, "a row was skipped"


async def _read(reconciler: Reconciler, session: AccountSession, kind: str) -> None:
    if kind == "fills":
        await reconciler.fills(session, Source.REST)
    else:
        await reconciler.orders(session, Source.REST)


async def test_each_page_is_published_before_the_next_is_read(redis_client: aioredis.Redis) -> None:
    """The venue is asked for page n+1 only after page n went to the bus."""
    fake = FakeVenue("kraken", [NOW - 100_000 + i * 1000 for i in range(12)], 5)
    _fill_rows(fake)
    calls_when_published: list[int] = []
    bus = Bus()
    publish = bus.publish

    async def publish_and_note(envelopes: list[Envelope], dead: list[DeadPayload]) -> None:
        calls_when_published.append(fake.calls)
        await publish(envelopes, dead)

    bus.publish = publish_and_note  # type: ignore[method-assign]
    with paged_like("kraken", 5):
        await _reconciler(redis_client, bus, 50).fills(_session(fake, next(_ex_ids)), Source.REST)
    assert calls_when_published == [1, 2, 3]
    assert len(bus.rows) == 12


class _Page(list[Any]):
    """A page the test can watch die (a plain list takes no weak reference)."""


class _WatchedSession(_Session):
    """Notes, at each call, which pages handed out before are still alive."""

    pages: list[weakref.ref[_Page]]
    alive_at_call: list[int]

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        self.alive_at_call.append(sum(1 for page in self.pages if page() is not None))
        page = _Page(await super().call(method, *args, **kwargs))
        self.pages.append(weakref.ref(page))
        return page


@pytest.mark.parametrize("venue", ["kraken", "bybit", "hyperliquid"])
async def test_no_page_is_held_while_the_next_is_read(venue: str, redis_client: aioredis.Redis) -> None:
    """A history read keeps one page in memory, not the last one as well while it waits for the
    next (issue 18: with a venue's rate limit, that wait is most of a long read)."""
    fake = FakeVenue(venue, [NOW - 100_000 + i * 1000 for i in range(12)], 5)
    _fill_rows(fake)
    session = _session(fake, next(_ex_ids), _WatchedSession)
    assert isinstance(session, _WatchedSession)
    session.pages, session.alive_at_call = [], []
    with paged_like(venue, 5):
        await _reconciler(redis_client, Bus(), 50).fills(session, Source.REST)
    assert len(session.alive_at_call) >= 3, "the read should take several pages"
    assert set(session.alive_at_call) == {0}, session.alive_at_call
