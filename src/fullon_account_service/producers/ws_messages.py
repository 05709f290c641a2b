"""What one WebSocket message of each kind does: normalise, queue for the bus, ask REST for what
the message cannot say. Mixed into ``LiveAccountCollector``, which runs the loops that read them.

This runs once per message, so per-message work that depends only on the account's markets (is
this a Hyperliquid account with HIP-3 dexes? a scan of every market) is done once per markets
table, not per message.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fullon_account_service.contract import BalanceSnapshot, Payload, Source
from fullon_account_service.producers.account import account_ref
from fullon_account_service.producers.balance_split import orders_move_split
from fullon_account_service.producers.capabilities import LEDGER
from fullon_account_service.producers.context import ProducerContext
from fullon_account_service.producers.normalise import Batch
from fullon_account_service.producers.reconcile import OPEN_ORDERS
from fullon_account_service.producers.session import AccountSession
from fullon_account_service.producers.venues import adapter_for


class MessageHandlers:
    def __init__(self, context: ProducerContext | None) -> None:
        self._context = context
        self._other_dexes: dict[int, tuple[Any, int, bool]] = {}
        """Per account: (the markets table read, its size, whether positions live on more than one
        dex)."""

    @property
    def context(self) -> ProducerContext:
        if self._context is None:
            self._context = ProducerContext.from_settings()
        return self._context

    def _forget_account(self, ex_id: int) -> None:
        """An account no longer collected: its next start publishes every state again."""
        self._other_dexes.pop(ex_id, None)
        if self.context.outbox.states is not None:
            self.context.outbox.states.forget(ex_id)

    async def on_balance_update(self, exchange: Any, balances: dict[str, Any]) -> None:
        """A WebSocket balance that leaves free/used unknown (Kraken sends totals only) is
        published as it is, and one REST read is asked for so the gap closes within a cycle."""
        session = self._session(exchange)
        batch = session.normaliser.ws_balances(balances)
        await self._publish(batch)
        if any(_has_unknown_split(e.payload) for e in batch.envelopes):
            session.request_rest_once("balance")

    async def on_order_update(self, exchange: Any, orders: list[dict[str, Any]]) -> None:
        session = self._session(exchange)
        batch = session.normaliser.orders(orders, Source.WS)
        write = self.context.reconciler.track_orders(session, batch.envelopes)
        await self.context.outbox.put(batch.envelopes, batch.dead, () if write is None else (write,))
        session.changed_since_audit = True
        if orders_move_split(session.ref.venue, batch) or batch.wallet_moved:
            session.request_rest_once("balance")

    async def on_position_update(self, exchange: Any, positions: list[dict[str, Any]]) -> None:
        session = self._session(exchange)
        complete = adapter_for(session.ref.venue).quirks.ws_positions_complete
        if complete and self._on_other_dexes(session):
            # The stream lists the main dex only: as a complete snapshot it would close the account's
            # positions on its other (HIP-3) dexes. Publish what it says, and let one REST read of
            # every dex close what it no longer lists.
            complete = False
            session.request_rest_once("positions")
        await self._publish(session.normaliser.positions(positions, Source.WS, complete=complete))

    def _on_other_dexes(self, session: AccountSession) -> bool:
        """Whether the account's positions live on more than one dex, read again only when the
        markets table was replaced (ccxt's ``load_markets(reload=True)`` builds a new one) or
        changed size."""
        markets = session.client.markets
        known = self._other_dexes.get(session.ref.ex_id)
        if known is None or known[0] is not markets or known[1] != len(markets):
            params = adapter_for(session.ref.venue).reads.position_params(markets)
            known = self._other_dexes[session.ref.ex_id] = (markets, len(markets), len(params) > 1)
        return known[2]

    async def on_ledger_update(self, exchange: Any, rows: list[dict[str, Any]]) -> None:
        """Ledger rows a stream pushed: published unless already on the bus, then remembered so
        the REST ledger read does not send them again."""
        session = self._session(exchange)
        batch = session.normaliser.ledger(rows, Source.WS)
        outbox = self.context.outbox
        await session.published_ledger.publish(batch.envelopes, partial(outbox.publish, dead=batch.dead))
        if batch.wallet_moved:
            session.request_rest_once("balance")

    async def on_trade_update(self, exchange: Any, trades: list[dict[str, Any]]) -> None:
        """Fills over WebSocket: published and awaited, then remembered so REST does not resend.

        A new fill asks for the open orders once (a venue may report partial fills on its trade
        channel only, as Kraken does), never for the history: audits and reconciliations read
        that. A venue whose order stream reports fills (``Quirks.ws_orders_report_fills``) is not
        asked while that stream is up and speaking: it said what the read would. Each fresh fill
        is a sample of the venue's clock skew. A spot fill on a venue whose spot wallet no stream
        reports asks for a REST balance read (``Batch.wallet_moved``)."""
        session = self._session(exchange)
        batch = session.normaliser.trades(trades, Source.WS)
        outbox = self.context.outbox
        fresh = await session.published_fills.publish(
            batch.envelopes, partial(outbox.publish, dead=batch.dead)
        )
        if fresh:
            skew = self.context.reconciler.skew
            for e in fresh:
                skew.observe(session.ref.venue, e.received_ms, e.exchange_ms)
            session.changed_since_audit = True
            if not self._orders_stream_tells_fills(session):
                session.request_rest_once(OPEN_ORDERS)
        if batch.wallet_moved:
            session.request_rest_once("balance")

    def _orders_stream_tells_fills(self, session: AccountSession) -> bool:
        """The venue's order stream reports fills, is collected over WebSocket and is not down
        (then the poller reads the orders anyway, ``fast_poll``)."""
        if not adapter_for(session.ref.venue).quirks.ws_orders_report_fills or "orders" in session.fast_poll:
            return False
        return self.context.detector.capabilities(session.ref).get("orders", False)

    def _session(self, exchange: Any) -> AccountSession:
        session = self.context.registry.get(account_ref(exchange).ex_id)
        if session is None:
            raise KeyError(f"ex_id {account_ref(exchange).ex_id} is not being collected")
        return session

    async def _dispatch(self, session: AccountSession, kind: str, result: Any) -> None:
        """One message to the handler of its kind (the public ``on_*`` hooks, which a subclass
        may override)."""
        ref = session.ref
        if kind == "balance":
            await self.on_balance_update(ref, result)
        elif kind == "orders":
            await self.on_order_update(ref, list(result))
        elif kind == "positions":
            await self.on_position_update(ref, list(result))
        elif kind == LEDGER:
            await self.on_ledger_update(ref, list(result))
        else:
            await self.on_trade_update(ref, list(result))

    async def _publish(self, batch: Batch) -> None:
        await self.context.outbox.put(batch.envelopes, batch.dead)


def _has_unknown_split(payload: Payload) -> bool:
    return isinstance(payload, BalanceSnapshot) and any(
        b.free is None or b.used is None for b in payload.balances.values()
    )
