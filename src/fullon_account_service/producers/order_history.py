"""Orders read over REST: the open list, the closed history from its cursor, and probes by id.

The closed history is walked from its own Redis cursor (``order_cursor``; the lookback where there
is none yet: never the fill cursor, which the same reconciliation has just moved past every order
closed before it) and published page by page; the open list (read first, so older than any closed
page) goes out last, and an order a closed page finished stays finished in the tracked set. Every
order the service last saw open (``open_orders``, kept in Redis across restarts) and that neither
list mentions is queried by id (``resolve``), at most ``max_probes`` per cycle; an order the venue
does not know is kept and logged, never given a status.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from fullon_account_service.contract import Envelope, OrderUpdate, Source
from fullon_account_service.logs import get_logger
from fullon_account_service.producers.cursor import CursorStore
from fullon_account_service.producers.cursor_history import ReadBounds
from fullon_account_service.producers.history import Row
from fullon_account_service.producers.open_orders import OpenOrderBook
from fullon_account_service.producers.outbox import Outbox
from fullon_account_service.producers.resolve import resolve
from fullon_account_service.producers.session import AccountSession
from fullon_account_service.producers.venues import adapter_for
from fullon_account_service.producers.walk import Walk, from_cursor, step

_log = get_logger("producers.reconcile")


class OrderHistory:
    def __init__(
        self,
        outbox: Outbox,
        cursors: CursorStore,
        open_orders: OpenOrderBook,
        bounds: ReadBounds,
        *,
        max_probes: int,
    ) -> None:
        self._outbox = outbox
        self._cursors = cursors
        self._open = open_orders
        self._bounds = bounds
        self._max_probes = max_probes
        self._walks: dict[int, Walk] = {}
        self._unknown: dict[int, set[str]] = {}

    async def open_orders(self, session: AccountSession, source: Source) -> None:
        """The open list alone: one call, no history, no probes (audits do those)."""
        open_rows = await adapter_for(session.ref.venue).history.fetch_open_orders(session)
        await self._publish(session, open_rows, source)

    async def orders(self, session: AccountSession, source: Source, overlap: int) -> None:
        """Open orders, closed history and probes of tracked orders, all on the bus before the
        tracked set forgets an order."""
        ex_id = session.ref.ex_id
        started = self._bounds.clock_ms()
        walk = self._walks.get(ex_id) or await from_cursor(
            self._cursors, ex_id, started, overlap, self._bounds.lookback_ms
        )
        paging = adapter_for(session.ref.venue).history
        open_rows = await paging.fetch_open_orders(session)
        # Only these ids are looked up below: the open list's (a closed page may finish one) and
        # the tracked orders' (those no read lists are probed). Remembering every id a long closed
        # walk listed held thousands of strings per account while the audit waited for a place
        # between its pages (bench/RESULTS.md "Stop 36"); an order tracked only after this read
        # and listed by a page is probed once more, which reads its state again.
        wanted = _ids(open_rows) | set(await self._open.get(ex_id))
        listed: set[str] = set()
        finished: set[str] = set()

        async def publish(rows: list[Row]) -> None:
            for update in _order_updates(await self._publish(session, rows, source)):
                if update.ex_order_id not in wanted:
                    continue
                listed.add(update.ex_order_id)
                if update.status.is_terminal:
                    finished.add(update.ex_order_id)

        read = await paging.fetch_closed_orders(
            session, walk.since_ms, walk.until_ms, started, self._bounds.max_pages, publish
        )
        batch = session.normaliser.orders(open_rows, source)
        await self._outbox.publish(batch.envelopes, batch.dead)
        await self._open.settle(ex_id, [e for e in batch.envelopes if _order_id(e) not in finished])
        listed.update(u.ex_order_id for u in _order_updates(batch.envelopes))
        await self._probe(session, source, listed, full=source is Source.RECONCILE)
        outcome = step(walk, read, started)
        if outcome.next is not None:
            self._walks[ex_id] = outcome.next
            session.rest_once.add("orders")
            await self._cursors.advance(ex_id, outcome.safe_ms)
            return
        self._walks.pop(ex_id, None)
        reached = outcome.reached_ms if outcome.reached_ms is not None else started
        await self._cursors.advance(ex_id, reached - overlap)

    async def _publish(self, session: AccountSession, rows: list[Row], source: Source) -> list[Envelope]:
        """Order rows on the bus and settled in the tracked set; their envelopes."""
        batch = session.normaliser.orders(rows, source)
        await self._outbox.publish(batch.envelopes, batch.dead)
        await self._open.settle(session.ref.ex_id, batch.envelopes)
        return batch.envelopes

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
        await self._publish(session, found.rows, source)
        for order_id in found.unknown:
            unknown.add(order_id)
            _log.warning(
                "order last seen open is unknown to the venue; kept as it was",
                ex_id=ex_id,
                ex_order_id=order_id,
            )
        if len(missing) > len(probe):
            session.rest_once.add("orders")


def _ids(rows: Iterable[Row]) -> set[str]:
    return {str(row["id"]) for row in rows if isinstance(row, dict) and row.get("id") not in (None, "")}


def _order_updates(envelopes: Iterable[Envelope]) -> Iterator[OrderUpdate]:
    return (e.payload for e in envelopes if isinstance(e.payload, OrderUpdate))


def _order_id(envelope: Envelope) -> str | None:
    return envelope.payload.ex_order_id if isinstance(envelope.payload, OrderUpdate) else None
