"""``LiveAccountCollector``: the WebSocket side, one ``watch_*`` loop per kind the account streams.

A loop publishes what its stream says and reports to the account's session:
- every message: the stream is alive (``stream_spoke``), so the poller goes back to its normal pace;
- a dropped stream (ccxt ``NetworkError``): reconnect after ``ACCOUNT_RECONNECT_DELAY`` with
  exponential backoff and jitter, ask the poller to cover the kind meanwhile, and request a full
  REST reconciliation once the stream is back;
- repeated failures or an unsupported stream: the capability detector moves the kind to REST
  for a cool-down; the loop waits it out and tries WebSocket again.
A watchdog asks for faster polling of any stream silent for longer than the threshold.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import ccxt

from fullon_account_service.contract import BalanceSnapshot, Payload, Source
from fullon_account_service.logs import get_logger
from fullon_account_service.producers.account import AccountRef, account_ref
from fullon_account_service.producers.backoff import Backoff
from fullon_account_service.producers.context import ProducerContext
from fullon_account_service.producers.normalise import Batch
from fullon_account_service.producers.normalise.venues import WS_POSITIONS_COMPLETE
from fullon_account_service.producers.session import AccountSession
from fullon_account_service.producers.tasks import TaskGroup
from fullon_account_service.redaction import redact_text

_log = get_logger("producers.live_collector")
_WATCH = {
    "balance": "watch_balance",
    "orders": "watch_orders",
    "positions": "watch_positions",
    "my_trades": "watch_my_trades",
}


class LiveAccountCollector:
    def __init__(
        self, exchanges: Sequence[Any] | None = None, *, context: ProducerContext | None = None
    ) -> None:
        self._exchanges = list(exchanges or [])
        self._context = context
        self._tasks = TaskGroup("live_collector")
        self._loops: dict[int, asyncio.Task[None] | None] = {}

    @property
    def context(self) -> ProducerContext:
        if self._context is None:
            self._context = ProducerContext.from_settings()
        return self._context

    async def start_collection(self) -> None:
        for exchange in self._exchanges:
            await self.start_exchange(exchange)

    async def start_exchange(self, exchange: Any) -> None:
        ref = account_ref(exchange)
        if self.is_collecting(ref):
            return
        ctx = self.context
        ctx.outbox.start()
        caps = ctx.detector.capabilities(ref)
        streams = [kind for kind, on_ws in caps.items() if on_ws]
        if streams:
            self._loops[ref.ex_id] = self._tasks.spawn(
                self._run(ref, streams), name=f"live-{ref.venue}-{ref.ex_id}"
            )
        else:
            self._loops[ref.ex_id] = None
        _log.info("collecting", ex_id=ref.ex_id, venue=ref.venue, streams=streams)

    async def _run(self, ref: AccountRef, streams: list[str]) -> None:
        """Acquire the session (retrying), then run one watch loop per stream and the watchdog."""
        ctx = self.context
        backoff = Backoff(ctx.timing.reconnect_delay_s, ctx.timing.max_backoff_s)
        session = await ctx.registry.acquire_with_retry(
            ref, backoff, lambda status, message: ctx.set_status(ref.ex_id, status, message)
        )
        try:
            await asyncio.gather(
                *(self._watch(session, kind) for kind in streams), self._watchdog(session, streams)
            )
        finally:
            await ctx.registry.release(ref.ex_id)

    def is_collecting(self, exchange: Any) -> bool:
        ex_id = exchange.ex_id if isinstance(exchange, AccountRef) else account_ref(exchange).ex_id
        return ex_id in self._loops

    async def stop_exchange(self, exchange: Any) -> None:
        ex_id = account_ref(exchange).ex_id
        if ex_id not in self._loops:
            return
        task = self._loops.pop(ex_id)
        if task is not None:
            await self._tasks.cancel(task)

    async def stop_collection(self) -> None:
        for ex_id in list(self._loops):
            await self.stop_exchange(AccountRef(ex_id=ex_id, uid=0, venue=""))

    @property
    def collecting(self) -> list[int]:
        return sorted(self._loops)

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
        await self.context.reconciler.track_orders(session, batch.envelopes)
        await self._publish(batch)

    async def on_position_update(self, exchange: Any, positions: list[dict[str, Any]]) -> None:
        session = self._session(exchange)
        complete = WS_POSITIONS_COMPLETE.get(session.ref.venue, False)
        await self._publish(session.normaliser.positions(positions, Source.WS, complete=complete))

    async def on_trade_update(self, exchange: Any, trades: list[dict[str, Any]]) -> None:
        """Fills over WebSocket: published and awaited, then remembered so REST does not resend."""
        session = self._session(exchange)
        batch = session.normaliser.trades(trades, Source.WS)
        fresh = [e for e in batch.envelopes if e.event_id not in session.published_fills]
        await self.context.outbox.publish(fresh, batch.dead)
        session.remember_fills([e.event_id for e in fresh])
        if fresh:
            session.request_rest_once("orders")

    def _session(self, exchange: Any) -> AccountSession:
        session = self.context.registry.get(account_ref(exchange).ex_id)
        if session is None:
            raise KeyError(f"ex_id {account_ref(exchange).ex_id} is not being collected")
        return session

    async def _publish(self, batch: Batch) -> None:
        await self.context.outbox.put(batch.envelopes, batch.dead)

    async def _dispatch(self, session: AccountSession, kind: str, result: Any) -> None:
        ref = session.ref
        if kind == "balance":
            await self.on_balance_update(ref, result)
        elif kind == "orders":
            await self.on_order_update(ref, list(result))
        elif kind == "positions":
            await self.on_position_update(ref, list(result))
        else:
            await self.on_trade_update(ref, list(result))

    async def _watch(self, session: AccountSession, kind: str) -> None:
        ctx = self.context
        ref = session.ref
        detector = ctx.detector
        backoff = Backoff(ctx.timing.reconnect_delay_s, ctx.timing.max_backoff_s)
        method = getattr(session.client, _WATCH[kind])
        reconnecting = False
        while True:
            if detector.is_demoted(ref.ex_id, kind):
                session.request_poll(kind)
                await asyncio.sleep(ctx.timing.poll_interval_s)
                continue
            try:
                result = await method()
            except asyncio.CancelledError:
                raise
            except ccxt.NotSupported:
                detector.demote(ref.ex_id, kind)
                continue
            except Exception as e:
                reconnecting = True
                ctx.sensor.on_reconnect(ref.venue)
                demoted = detector.record_failure(ref.ex_id, kind)
                session.request_poll(kind)
                delay = backoff.next()
                _log.info(
                    "stream failed; reconnecting",
                    ex_id=ref.ex_id,
                    kind=kind,
                    delay_s=round(delay, 2),
                    moved_to_rest=demoted,
                    error=redact_text(f"{type(e).__name__}: {e}")[:200],
                )
                await asyncio.sleep(delay)
                continue
            backoff.reset()
            detector.record_success(ref.ex_id, kind)
            session.stream_spoke(kind)
            if reconnecting:
                reconnecting = False
                session.request_reconcile()
            await self._dispatch(session, kind, result)

    async def _watchdog(self, session: AccountSession, streams: list[str]) -> None:
        timing = self.context.timing
        started = time.monotonic()
        while True:
            await asyncio.sleep(max(timing.silence_threshold_s / 4, 0.05))
            now = time.monotonic()
            for kind in streams:
                if now - session.last_ws_at.get(kind, started) > timing.silence_threshold_s:
                    session.request_poll(kind)


def _has_unknown_split(payload: Payload) -> bool:
    return isinstance(payload, BalanceSnapshot) and any(
        b.free is None or b.used is None for b in payload.balances.values()
    )
