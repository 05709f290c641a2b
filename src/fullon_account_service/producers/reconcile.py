"""REST reads of one account, turned into events: the gap-filler behind every stream.

Used four ways: by the poller each cycle for the kinds the strategy leaves to REST, in periodic
audits of the kinds on WebSocket, at start and after every WebSocket reconnect for everything
(``RECONCILE`` source), so whatever happened while a stream was down reaches the bus; and for the
open orders alone after a WebSocket fill (``open_orders``: a venue may report partial fills on its
trade channel only), which reads no history.

- Fills are read from the Redis cursor (minus an overlap: twice the venue's clock skew, see
  ``clock_skew``), page by page, the cursor moved only once the read is over
  (``cursor_history``).
- Ledger entries (funding, deposits, transfers...) are read the same way from their own cursor
  (``ledger_cursor``), where the venue has a ledger, and deduplicated by event id like fills.
  Deposits and withdrawals seen pending are followed (``pending_ledger``, when given) and their
  records read again from the oldest one until they end.
- Orders are read as the open ones plus the closed history, walked the same way from their own
  cursor, and the orders last seen open that neither list mentions are queried by id
  (``order_history``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from functools import partial

from fullon_account_service.contract import Envelope, Source
from fullon_account_service.errors import CredentialsError
from fullon_account_service.logs import get_logger
from fullon_account_service.producers import history
from fullon_account_service.producers.clock_skew import ClockSkew
from fullon_account_service.producers.cursor import CursorStore
from fullon_account_service.producers.cursor_history import CursorHistory, ReadBounds
from fullon_account_service.producers.history import Row
from fullon_account_service.producers.normalise import Batch
from fullon_account_service.producers.open_orders import OpenOrderBook
from fullon_account_service.producers.order_history import OrderHistory
from fullon_account_service.producers.outbox import Outbox
from fullon_account_service.producers.pending_ledger import PendingLedger, TransferFollow
from fullon_account_service.producers.session import AccountSession
from fullon_account_service.producers.side_write import SideWrite
from fullon_account_service.producers.venues import adapter_for

ALL_KINDS = ("balance", "orders", "positions", "fills", "ledger")
OPEN_ORDERS = "open_orders"
_log = get_logger("producers.reconcile")


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class Reconciler:
    def __init__(
        self,
        outbox: Outbox,
        cursors: CursorStore,
        open_orders: OpenOrderBook,
        *,
        skew: ClockSkew | None = None,
        lookback_ms: int = 6 * 24 * 3600 * 1000,
        clock_ms: Callable[[], int] = wall_ms,
        max_pages: int = history.MAX_PAGES,
        max_probes: int = 20,
        pending_ledger: PendingLedger | None = None,
    ) -> None:
        self._outbox = outbox
        self._pending = pending_ledger
        self._cursors = cursors
        self._open = open_orders
        self.skew = skew or ClockSkew(30_000)
        bounds = self._bounds = ReadBounds(clock_ms, lookback_ms, max_pages)
        self._fills = CursorHistory("fill", cursors, outbox, bounds)
        self._ledger = CursorHistory("ledger", cursors.named("ledger_cursor"), outbox, bounds)
        self._orders = OrderHistory(
            outbox, cursors.named("order_cursor"), open_orders, bounds, max_probes=max_probes
        )

    async def run(self, session: AccountSession, kinds: Iterable[str], source: Source = Source.REST) -> None:
        """Read ``kinds`` (balance, orders or open_orders, positions, fills, ledger) once; errors
        propagate (ours)."""
        wanted = set(kinds)
        if "balance" in wanted:
            await self.balance(session, source)
        if "fills" in wanted and await self.fills(session, source) and "orders" not in wanted:
            # Fills no stream reported: the orders they belong to may have changed unseen too.
            session.rest_once.add("orders")
        if "orders" in wanted:
            await self.orders(session, source)
        elif OPEN_ORDERS in wanted:
            await self.open_orders(session, source)
        if "positions" in wanted:
            await self.positions(session, source)
        if "ledger" in wanted:
            await self.ledger(session, source)

    async def _put(self, batch: Batch) -> None:
        await self._outbox.put(batch.envelopes, batch.dead)

    async def balance(self, session: AccountSession, source: Source) -> None:
        reads = adapter_for(session.ref.venue).reads
        for params in reads.balance_params():
            ticket = session.normaliser.wallet_ticket()
            balance = await (
                session.call("fetch_balance", params) if params else session.call("fetch_balance")
            )
            session.normaliser.use_wallets(reads.wallets(session.client))
            await self._put(session.normaliser.rest_balances(balance, source, ticket))

    async def positions(self, session: AccountSession, source: Source) -> None:
        if not history.has_positions(session):
            return
        rows = []
        for params in adapter_for(session.ref.venue).reads.position_params(session.client.markets):
            call = (
                session.call("fetch_positions", None, params) if params else session.call("fetch_positions")
            )
            rows.extend(await call)
        await self._put(session.normaliser.positions(rows, source, complete=True))

    async def open_orders(self, session: AccountSession, source: Source) -> None:
        """The open list alone: one call, no history, no probes (audits do those)."""
        await self._orders.open_orders(session, source)

    async def orders(self, session: AccountSession, source: Source) -> None:
        """Open orders, closed history and probes of tracked orders (``order_history``)."""
        await self._orders.orders(session, source, self.skew.overlap_ms(session.ref.venue))

    async def fills(self, session: AccountSession, source: Source) -> int:
        """Fills since the cursor, each page published before the next is read and the cursor
        moved only once the read is over; how many were not on the bus yet. A new spot fill on a
        venue whose spot wallet no stream reports owes that wallet a read (``spot_moved``)."""

        def moved(fresh: list[Envelope]) -> None:
            if session.normaliser.spot_moved(fresh):
                session.request_rest_once("balance")

        fresh = await self._fills.read(
            session,
            source,
            adapter_for(session.ref.venue).history.fetch_fills,
            session.normaliser.trades,
            session.published_fills,
            self.skew.overlap_ms(session.ref.venue),
            on_fresh=moved,
        )
        if fresh:
            session.changed_since_audit = True
        return fresh

    async def ledger(self, session: AccountSession, source: Source) -> int:
        """Ledger entries since the ledger cursor, the same way as fills; nothing where the venue
        has no ledger (``Quirks.has_ledger``).

        A key may trade and read its account yet lack the venue's ledger permission (Kraken's
        "Query Ledger Entries", Bybit's wallet read): a ledger read the venue refuses as
        unauthorised is logged, and the account is collected without its ledger until its next
        reconciliation tries again, instead of the whole account going into error."""
        venue = adapter_for(session.ref.venue)
        if not venue.quirks.has_ledger(session.client.has):
            return 0
        if session.ledger_denied is not None and source is not Source.RECONCILE:
            return 0
        follow = TransferFollow()
        try:
            fresh = await self._ledger.read(
                session,
                source,
                venue.history.fetch_ledger,
                session.normaliser.ledger,
                session.published_ledger,
                self.skew.overlap_ms(session.ref.venue),
                on_batch=partial(self._remember_pending, session.ref.ex_id, follow),
            )
            fresh += await self._pending_transfers(session, source, follow)
        except CredentialsError as e:
            if session.ledger_denied is None:
                _log.warning(
                    "ledger read refused; collecting the account without it until its next reconciliation",
                    ex_id=session.ref.ex_id,
                    error=str(e),
                )
            session.ledger_denied = str(e)
            return 0
        session.ledger_denied = None
        return fresh

    async def _pending_transfers(
        self, session: AccountSession, source: Source, follow: TransferFollow
    ) -> int:
        """The deposit and withdrawal records again from the oldest one still pending, where the
        venue lists them before they complete; each that ended leaves the set (``pending_ledger``)
        once its entry is on the bus. How many entries were not on the bus yet."""
        if self._pending is None:
            return 0
        ex_id = session.ref.ex_id
        pending = await self._pending.get(ex_id)
        fresh = 0
        if pending:
            remember = partial(self._remember_pending, ex_id, follow)

            async def publish(rows: list[Row]) -> None:
                nonlocal fresh
                batch = session.normaliser.ledger(rows, source)
                await remember(batch)
                sent = partial(self._outbox.publish, dead=batch.dead)
                fresh += len(await session.published_ledger.publish(batch.envelopes, sent))

            read = adapter_for(session.ref.venue).history.fetch_pending_transfers
            bounds = self._bounds
            await read(session, min(pending.values()), None, bounds.clock_ms(), bounds.max_pages, publish)
        await self._pending.forget(ex_id, follow.ended - follow.pending.keys())
        return fresh

    async def _remember_pending(self, ex_id: int, follow: TransferFollow, batch: Batch) -> None:
        follow.add(batch)
        if self._pending is not None:
            await self._pending.remember(ex_id, batch.pending)

    def track_orders(self, session: AccountSession, envelopes: Iterable[Envelope]) -> SideWrite | None:
        """Orders a stream reported open: resolved against the venue after a restart if their
        final state never reaches the bus (they leave the set only through a REST read). The
        write to send ahead of the events, if any."""
        return self._open.stage(session.ref.ex_id, envelopes)
