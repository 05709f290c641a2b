"""REST reads of one account, turned into events: the gap-filler behind every stream.

Used four ways: by the poller each cycle for the kinds the strategy leaves to REST, in periodic
audits of the kinds on WebSocket, at start and after every WebSocket reconnect for everything
(``RECONCILE`` source), so whatever happened while a stream was down reaches the bus; and for the
open orders alone after a WebSocket fill (``open_orders``: a venue may report partial fills on its
trade channel only), which reads no history.

- Fills are read from the Redis cursor (minus an overlap: twice the venue's clock skew, see
  ``clock_skew``). A read cut short by the page budget or
  a venue's window (``history``) moves the cursor only to the first gap, and the next cycle reads
  on from there (``walk``); a complete read moves it to what it reached, minus the overlap. Each
  page is published before the next is read, so a read holds one page however far behind it is;
  the cursor moves only once the read is over, after the fills before it are on the bus.
- Ledger entries (funding, deposits, transfers...) are read the same way from their own cursor
  (``ledger_cursor``), where the venue has a ledger, and deduplicated by event id like fills.
  Deposits and withdrawals seen pending are followed (``pending_ledger``, when given) and their
  records read again from the oldest one until they end.
- Orders are read as the open ones plus the closed history, walked the same way from their own
  Redis cursor (``order_cursor``; the lookback where there is none yet: never the fill cursor,
  which the same reconciliation has just moved past every order closed before it). Every order the
  service last saw open (``open_orders``, kept in Redis across restarts) and that neither list
  mentions is queried by id (``resolve``), at most ``max_probes`` per cycle; an order the venue
  does not know is kept and logged, never given a status.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial

from fullon_account_service.contract import Envelope, OrderUpdate, Source
from fullon_account_service.errors import CredentialsError
from fullon_account_service.logs import get_logger
from fullon_account_service.producers import history
from fullon_account_service.producers.clock_skew import ClockSkew
from fullon_account_service.producers.cursor import CursorStore
from fullon_account_service.producers.history import HistoryRead, PageSink, Row
from fullon_account_service.producers.normalise import Batch
from fullon_account_service.producers.open_orders import OpenOrderBook
from fullon_account_service.producers.outbox import Outbox
from fullon_account_service.producers.pending_ledger import PendingLedger, TransferFollow
from fullon_account_service.producers.published_ids import PublishedIds
from fullon_account_service.producers.resolve import resolve
from fullon_account_service.producers.session import AccountSession
from fullon_account_service.producers.venues import adapter_for
from fullon_account_service.producers.walk import Walk, step

ALL_KINDS = ("balance", "orders", "positions", "fills", "ledger")
OPEN_ORDERS = "open_orders"
_log = get_logger("producers.reconcile")
_SpanRead = Callable[[AccountSession, int, "int | None", int, int, PageSink], Awaitable[HistoryRead]]


@dataclass(slots=True)
class _Tracked:
    """A history read by cursor: its name (for logs), its Redis cursors and the walks under way."""

    name: str
    cursors: CursorStore
    walks: dict[int, Walk] = field(default_factory=dict)


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
        self._order_cursors = cursors.named("order_cursor")
        self._open = open_orders
        self.skew = skew or ClockSkew(30_000)
        self._lookback = lookback_ms
        self._now = clock_ms
        self._max_pages = max_pages
        self._max_probes = max_probes
        self._fills = _Tracked("fill", cursors)
        self._ledger = _Tracked("ledger", cursors.named("ledger_cursor"))
        self._order_walks: dict[int, Walk] = {}
        self._unknown: dict[int, set[str]] = {}

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
        for params in adapter_for(session.ref.venue).reads.balance_params():
            balance = await (
                session.call("fetch_balance", params) if params else session.call("fetch_balance")
            )
            await self._put(session.normaliser.rest_balances(balance, source))

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

    async def _cursor_walk(self, ex_id: int, started: int, overlap: int, store: CursorStore) -> Walk:
        """From ``store``'s cursor for ``ex_id`` minus the overlap; from the lookback without one."""
        cursor = await store.get(ex_id)
        if cursor is not None:
            return Walk(max(cursor - overlap, 0))
        return Walk(max(started - self._lookback - overlap, 0))

    async def open_orders(self, session: AccountSession, source: Source) -> None:
        """The open list alone: one call, no history, no probes (audits do those)."""
        open_rows = await adapter_for(session.ref.venue).history.fetch_open_orders(session)
        batch = session.normaliser.orders(open_rows, source)
        await self._outbox.publish(batch.envelopes, batch.dead)
        await self._open.settle(session.ref.ex_id, batch.envelopes)

    async def orders(self, session: AccountSession, source: Source) -> None:
        """Open orders, closed history and probes of tracked orders, all on the bus before the
        tracked set forgets an order. The closed history goes out page by page; the open list
        (read first, so older than any closed page) last, and an order a closed page finished
        stays finished in the tracked set."""
        ex_id = session.ref.ex_id
        started = self._now()
        overlap = self.skew.overlap_ms(session.ref.venue)
        walk = self._order_walks.get(ex_id) or await self._cursor_walk(
            ex_id, started, overlap, self._order_cursors
        )
        paging = adapter_for(session.ref.venue).history
        open_rows = await paging.fetch_open_orders(session)
        listed: set[str] = set()
        finished: set[str] = set()

        async def publish(rows: list[history.Row]) -> None:
            batch = session.normaliser.orders(rows, source)
            await self._outbox.publish(batch.envelopes, batch.dead)
            await self._open.settle(ex_id, batch.envelopes)
            for update in _order_updates(batch.envelopes):
                listed.add(update.ex_order_id)
                if update.status.is_terminal:
                    finished.add(update.ex_order_id)

        read = await paging.fetch_closed_orders(
            session, walk.since_ms, walk.until_ms, started, self._max_pages, publish
        )
        batch = session.normaliser.orders(open_rows, source)
        await self._outbox.publish(batch.envelopes, batch.dead)
        await self._open.settle(ex_id, [e for e in batch.envelopes if _order_id(e) not in finished])
        listed.update(u.ex_order_id for u in _order_updates(batch.envelopes))
        await self._probe(session, source, listed, full=source is Source.RECONCILE)
        outcome = step(walk, read, started)
        if outcome.next is not None:
            self._order_walks[ex_id] = outcome.next
            session.rest_once.add("orders")
            await self._order_cursors.advance(ex_id, outcome.safe_ms)
            return
        self._order_walks.pop(ex_id, None)
        reached = outcome.reached_ms if outcome.reached_ms is not None else started
        await self._order_cursors.advance(ex_id, reached - overlap)

    async def _probe(self, session: AccountSession, source: Source, listed: set[str], *, full: bool) -> None:
        """Tracked orders no read listed (``listed``: their ids) are asked for by id."""
        ex_id = session.ref.ex_id
        unknown = self._unknown.setdefault(ex_id, set())
        if full:
            unknown.clear()
        tracked = await self._open.get(ex_id)
        missing = [(i, t) for i, t in tracked.items() if i not in listed and i not in unknown]
        if not missing:
            return
        probe = missing[: self._max_probes]
        found = await resolve(session, probe)
        batch = session.normaliser.orders(found.rows, source)
        await self._outbox.publish(batch.envelopes, batch.dead)
        await self._open.settle(ex_id, batch.envelopes)
        for order_id in found.unknown:
            unknown.add(order_id)
            _log.warning(
                "order last seen open is unknown to the venue; kept as it was",
                ex_id=ex_id,
                ex_order_id=order_id,
            )
        if len(missing) > len(probe):
            session.rest_once.add("orders")

    async def fills(self, session: AccountSession, source: Source) -> int:
        """Fills since the cursor, each page published before the next is read and the cursor
        moved only once the read is over; how many were not on the bus yet."""
        fresh = await self._walk_history(
            session,
            source,
            self._fills,
            adapter_for(session.ref.venue).history.fetch_fills,
            session.normaliser.trades,
            session.published_fills,
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
            fresh = await self._walk_history(
                session,
                source,
                self._ledger,
                venue.history.fetch_ledger,
                session.normaliser.ledger,
                session.published_ledger,
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
        once its entry is on the bus."""
        if self._pending is None:
            return 0
        ex_id = session.ref.ex_id
        pending = await self._pending.get(ex_id)
        handed = _Handed()
        if pending:
            remember = partial(self._remember_pending, ex_id, follow)

            async def publish(rows: list[Row]) -> None:
                batch = session.normaliser.ledger(rows, source)
                await remember(batch)
                sent = partial(self._outbox.publish, dead=batch.dead)
                handed.count(await session.published_ledger.publish(batch.envelopes, sent), batch.envelopes)

            read = adapter_for(session.ref.venue).history.fetch_pending_transfers
            await read(session, min(pending.values()), None, self._now(), self._max_pages, publish)
        await self._pending.forget(ex_id, follow.ended - follow.pending.keys())
        return handed.fresh

    async def _remember_pending(self, ex_id: int, follow: TransferFollow, batch: Batch) -> None:
        follow.add(batch)
        if self._pending is not None:
            await self._pending.remember(ex_id, batch.pending)

    async def _walk_history(
        self,
        session: AccountSession,
        source: Source,
        track: _Tracked,
        read_span: _SpanRead,
        normalise: Callable[[list[Row], Source], Batch],
        published: PublishedIds,
        on_batch: Callable[[Batch], Awaitable[None]] | None = None,
    ) -> int:
        """One history since its cursor, each page published before the next is read and the
        cursor moved only once the read is over; how many rows were not on the bus yet.
        ``on_batch`` sees each page's batch before it is published."""
        ex_id = session.ref.ex_id
        started = self._now()
        overlap = self.skew.overlap_ms(session.ref.venue)
        walk = track.walks.get(ex_id) or await self._cursor_walk(ex_id, started, overlap, track.cursors)
        handed = _Handed()

        async def publish(rows: list[Row]) -> None:
            batch = normalise(rows, source)
            if on_batch is not None:
                await on_batch(batch)
            fresh = await published.publish(batch.envelopes, partial(self._outbox.publish, dead=batch.dead))
            handed.count(fresh, batch.envelopes)

        read = await read_span(session, walk.since_ms, walk.until_ms, started, self._max_pages, publish)
        outcome = step(walk, read, started)
        if outcome.next is not None:
            track.walks[ex_id] = outcome.next
            session.wake_poller.set()
            await track.cursors.advance(ex_id, outcome.safe_ms)
            _log.info(
                f"{track.name} history read in part; continuing from the gap",
                ex_id=ex_id,
                resume_from_ms=outcome.next.since_ms,
                gap_until_ms=outcome.next.until_ms,
            )
            return handed.fresh
        track.walks.pop(ex_id, None)
        reached = outcome.reached_ms if outcome.reached_ms is not None else started
        cursor = await track.cursors.advance(ex_id, max(handed.newest_ms, reached - overlap))
        published.forget_before(cursor - overlap)
        return handed.fresh

    async def track_orders(self, session: AccountSession, envelopes: Iterable[Envelope]) -> None:
        """Orders a stream reported open: resolved against the venue after a restart if their
        final state never reaches the bus (they leave the set only through a REST read)."""
        await self._open.track(session.ref.ex_id, envelopes)


class _Handed:
    """What a history read handed over so far: rows new to the bus, the newest exchange time."""

    __slots__ = ("fresh", "newest_ms")

    def __init__(self) -> None:
        self.fresh = 0
        self.newest_ms = 0

    def count(self, fresh: list[Envelope], handed: list[Envelope]) -> None:
        self.fresh += len(fresh)
        self.newest_ms = max([self.newest_ms, *(e.exchange_ms or 0 for e in handed)])


def _order_updates(envelopes: Iterable[Envelope]) -> Iterator[OrderUpdate]:
    return (e.payload for e in envelopes if isinstance(e.payload, OrderUpdate))


def _order_id(envelope: Envelope) -> str | None:
    return envelope.payload.ex_order_id if isinstance(envelope.payload, OrderUpdate) else None
