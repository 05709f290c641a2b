"""REST reads of one account, turned into events: the gap-filler behind every stream.

Used three ways: by the poller each cycle for the kinds the strategy leaves to REST (and fills
always), at start, and after every WebSocket reconnect for everything (``RECONCILE`` source), so
whatever happened while a stream was down reaches the bus. Fills are read from the Redis cursor
(minus an overlap) and the cursor moves only after they are published; orders are read as the
open ones plus the recently closed and canceled ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from fullon_account_service.contract import Source
from fullon_account_service.producers import history, venue_reads
from fullon_account_service.producers.cursor import CursorStore
from fullon_account_service.producers.normalise import Batch
from fullon_account_service.producers.outbox import Outbox
from fullon_account_service.producers.session import AccountSession

ALL_KINDS = ("balance", "orders", "positions", "fills")


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class Reconciler:
    def __init__(
        self,
        outbox: Outbox,
        cursors: CursorStore,
        *,
        overlap_ms: int = 60_000,
        lookback_ms: int = 6 * 24 * 3600 * 1000,
        clock_ms: Callable[[], int] = wall_ms,
    ) -> None:
        self._outbox = outbox
        self._cursors = cursors
        self._overlap = overlap_ms
        self._lookback = lookback_ms
        self._now = clock_ms

    async def run(self, session: AccountSession, kinds: Iterable[str], source: Source = Source.REST) -> None:
        """Read ``kinds`` (balance, orders, positions, fills) once; errors propagate (ours)."""
        wanted = set(kinds)
        if "balance" in wanted:
            await self.balance(session, source)
        if "orders" in wanted:
            await self.orders(session, source)
        if "positions" in wanted:
            await self.positions(session, source)
        if "fills" in wanted:
            await self.fills(session, source)

    async def _put(self, batch: Batch) -> None:
        await self._outbox.put(batch.envelopes, batch.dead)

    async def balance(self, session: AccountSession, source: Source) -> None:
        for params in venue_reads.balance_params(session.ref.venue):
            balance = await (
                session.call("fetch_balance", params) if params else session.call("fetch_balance")
            )
            await self._put(session.normaliser.rest_balances(balance, source))

    async def positions(self, session: AccountSession, source: Source) -> None:
        if not history.has_positions(session):
            return
        rows = []
        for params in venue_reads.position_params(session.ref.venue, session.client.markets):
            call = (
                session.call("fetch_positions", None, params) if params else session.call("fetch_positions")
            )
            rows.extend(await call)
        await self._put(session.normaliser.positions(rows, source, complete=True))

    async def orders(self, session: AccountSession, source: Source) -> None:
        started = self._now()
        since = session.orders_since_ms
        if since is None:
            cursor = await self._cursors.get(session.ref.ex_id)
            since = cursor if cursor is not None else started - self._lookback
        open_rows = await history.fetch_open_orders(session)
        closed_rows = await history.fetch_closed_orders(session, max(since - self._overlap, 0))
        batch = session.normaliser.orders(closed_rows, source)
        batch.extend(session.normaliser.orders(open_rows, source))
        await self._put(batch)
        session.orders_since_ms = started

    async def fills(self, session: AccountSession, source: Source) -> None:
        """Fills since the cursor, published before the cursor moves past them."""
        ex_id = session.ref.ex_id
        started = self._now()
        cursor = await self._cursors.get(ex_id)
        since = (cursor if cursor is not None else started - self._lookback) - self._overlap
        rows = await history.fetch_fills(session, max(since, 0))
        batch = session.normaliser.trades(rows, source)
        fresh = [e for e in batch.envelopes if e.event_id not in session.published_fills]
        await self._outbox.publish(fresh, batch.dead)
        session.remember_fills([e.event_id for e in fresh])
        if fresh:
            session.rest_once.add("orders")
        newest = max((e.exchange_ms or 0 for e in batch.envelopes), default=0)
        await self._cursors.advance(ex_id, max(newest, started - self._overlap))

    async def ws_fills_published(self, session: AccountSession, event_ids: list[str]) -> None:
        """Fills seen over WebSocket and published: REST re-reads need not send them again."""
        session.remember_fills(event_ids)
