"""``LiveAccountCollector``: the WebSocket side, one ``watch_*`` loop per kind the account streams.

A loop publishes what its stream says and reports to the account's session:
- every message: the stream is alive (``stream_spoke``), so the poller goes back to its normal pace;
- orders and fills: once ``watch_*`` returned, the rows each later frame adds are taken from ccxt's
  cache (``ws_follow``); ``watch_*`` is called again only once a socket closed, failed or holds a
  rejection, so a message costs no ccxt call of its own (a socket that ended while a loop
  followed it is handled as a dropped stream, below, though no ``watch_*`` call raised);
- a message whose handling raises: logged with its (redacted) payload, dead-lettered with the
  reason, a REST reconciliation asked for, and the loop reads the next message;
- a dropped stream (ccxt ``NetworkError``): reconnect after ``ACCOUNT_RECONNECT_DELAY`` with
  exponential backoff and jitter, ask the poller to cover the kind meanwhile, and request a full
  REST reconciliation once the stream is back; a ``watch_*`` call that failed while its sockets
  stayed open and refused nothing (Kraken's token, fetched again over REST every 15 minutes,
  timing out) is retried and covered the same way, but reconciles nothing: no message was lost;
- rejected credentials on a stream: the account is marked in error (as the poller does) and the
  stream retried slowly;
- ledger rows (funding, transfers...) where the venue pushes them (``ws_ledger``): published
  unless already on the bus, like fills; the REST ledger read covers every reconnect;
- repeated failures or an unsupported stream: the capability detector moves the kind to REST
  for a cool-down; the loop waits it out and tries WebSocket again.
Each kind's loop is supervised on its own: an unexpected failure restarts that kind only, after
a backoff. The watchdog (``ws_watchdog``) reopens a socket that read nothing at all for
``ACCOUNT_WS_SILENCE_S``; a kind that is merely quiet is left to the audits. ``is_collecting`` is
true while an account's loops run; the daemon restarts an account whose loops died
(``restart_dead``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

import ccxt

from fullon_account_service.errors import CredentialsError
from fullon_account_service.logs import get_logger
from fullon_account_service.producers.account import AccountRef, account_ref
from fullon_account_service.producers.bad_input import message_dead_letter, preview
from fullon_account_service.producers.capabilities import LEDGER
from fullon_account_service.producers.ccxt_errors import translate
from fullon_account_service.producers.context import ProducerContext
from fullon_account_service.producers.session import AccountSession
from fullon_account_service.producers.ws_backlog import drop_raw, followed, held_back, rows_waiting
from fullon_account_service.producers.ws_follow import frame_signal, stream_gaps, streaming
from fullon_account_service.producers.ws_ledger import watch_ledger
from fullon_account_service.producers.ws_messages import MessageHandlers
from fullon_account_service.producers.ws_watchdog import watchdog
from fullon_account_service.retry import Attempts
from fullon_account_service.supervisor import TaskSupervisor, restarting

_log = get_logger("producers.live_collector")
_WS_AUTH = "stream credentials rejected: "
_WATCH = {
    "balance": "watch_balance",
    "orders": "watch_orders",
    "positions": "watch_positions",
    "my_trades": "watch_my_trades",
}


class LiveAccountCollector(MessageHandlers):
    def __init__(
        self, exchanges: Sequence[Any] | None = None, *, context: ProducerContext | None = None
    ) -> None:
        super().__init__(context)
        self._exchanges = list(exchanges or [])
        self._tasks = TaskSupervisor("live_collector")
        self._loops: dict[int, asyncio.Task[None] | None] = {}
        self._refs: dict[int, AccountRef] = {}

    async def start_collection(self) -> None:
        for exchange in self._exchanges:
            await self.start_exchange(exchange)

    async def start_exchange(self, exchange: Any) -> None:
        ref = account_ref(exchange)
        if self.is_collecting(ref):
            return
        old = self._loops.pop(ref.ex_id, None)
        if old is not None:
            await self._tasks.cancel(old)
        ctx = self.context
        ctx.outbox.start()
        caps = ctx.detector.capabilities(ref)
        streams = [kind for kind, on_ws in caps.items() if on_ws]
        self._refs[ref.ex_id] = ref
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
        backoff = ctx.retry.venue.start()
        session = await ctx.registry.acquire_with_retry(
            ref, backoff, lambda status, message: ctx.set_status(ref.ex_id, status, message)
        )
        try:
            await asyncio.gather(
                *(self._supervise(session, kind, partial(self._watch, session, kind)) for kind in streams),
                self._supervise(session, "watchdog", partial(watchdog, session, ctx.timing)),
            )
        finally:
            await ctx.registry.release(ref.ex_id)

    def _supervise(
        self, session: AccountSession, kind: str, run: Callable[[], Awaitable[None]]
    ) -> Awaitable[None]:
        """One kind's loop: an unexpected failure restarts this kind only, after a backoff."""
        ctx, ref = self.context, session.ref
        return restarting(
            run,
            ctx.retry.venue.start(),
            partial(ctx.sensor.on_ws_loop_restart, ref.venue, kind),
            ex_id=ref.ex_id,
            kind=kind,
        )

    def is_collecting(self, exchange: Any) -> bool:
        """True while the account's WebSocket loops run (False for an account with none)."""
        ex_id = exchange.ex_id if isinstance(exchange, AccountRef) else account_ref(exchange).ex_id
        task = self._loops.get(ex_id)
        return task is not None and not task.done()

    def dead(self) -> list[AccountRef]:
        """Accounts whose loops ended although nobody stopped them."""
        return [self._refs[ex_id] for ex_id, task in self._loops.items() if task is not None and task.done()]

    async def restart_dead(self) -> list[AccountRef]:
        """Start again the loops of every account whose loops died; the accounts restarted."""
        dead = self.dead()
        for ref in dead:
            _log.warning("websocket loops of an account ended; restarting them", ex_id=ref.ex_id)
            self._loops.pop(ref.ex_id, None)
            await self.start_exchange(ref)
        return dead

    async def stop_exchange(self, exchange: Any) -> None:
        ex_id = account_ref(exchange).ex_id
        if ex_id not in self._loops:
            return
        task = self._loops.pop(ex_id)
        self._refs.pop(ex_id, None)
        self._forget_account(ex_id)
        if task is not None:
            await self._tasks.cancel(task)

    async def stop_collection(self) -> None:
        """Cancel every account's loops at once."""
        self._loops.clear()
        self._refs.clear()
        await self._tasks.cancel_all()

    async def _watch(self, session: AccountSession, kind: str) -> None:
        ctx = self.context
        ref = session.ref
        detector = ctx.detector
        backoff = ctx.retry.venue.start()
        method = (
            partial(watch_ledger, session.client, ref.venue)
            if kind == LEDGER
            else getattr(session.client, _WATCH[kind])
        )
        failed = False  # without the guard's count of gaps, a failed call is a dropped stream
        seen_gaps = stream_gaps(session.client)
        while True:
            if detector.is_demoted(ref.ex_id, kind):
                _cover(session, kind)
                await asyncio.sleep(ctx.timing.poll_interval_s)
                continue
            try:
                result = await method()
            except ccxt.NotSupported:
                detector.demote(ref.ex_id, kind)
                continue
            except Exception as e:
                failed = True
                _cover(session, kind)
                await asyncio.sleep(self._stream_failed(session, kind, e, backoff))
                continue
            backoff.reset()
            detector.record_success(ref.ex_id, kind)
            session.stream_spoke(kind)
            if session.error is not None and session.error.startswith(_WS_AUTH):
                session.error = None
                ctx.set_status(ref.ex_id, "running", "collecting")
            # Only a socket that ended or rejected a call can have lost messages: a call that
            # failed while its sockets stayed open and refused nothing (Kraken's token, fetched
            # again every 15 minutes, timing out) lost none; a gap while this loop was not in a
            # call of its own still counts.
            gaps = stream_gaps(session.client)
            if failed if gaps is None else gaps != seen_gaps:
                session.request_reconcile()
            failed, seen_gaps = False, gaps
            await self._handle(session, kind, result)
            drop_raw(kind, result)
            if await self._follow(session, kind):
                # no watch_* call of this loop was pending for ccxt to fail: covered as a dropped
                # stream is (and reconciled once back, above, if a socket ended)
                ctx.sensor.on_reconnect(ref.venue)
                _cover(session, kind)

    async def _follow(self, session: AccountSession, kind: str) -> bool:
        """Publish the rows ``kind``'s cache gains, frame by frame, until the client's sockets
        need ``watch_*`` again (``ws_follow``): True then. For a kind ccxt does not cache as rows,
        only what arrived while the last message was handled: False."""
        client = session.client
        signal = frame_signal(client) if followed(kind) else None
        while True:
            rows = held_back(client, kind)
            if rows:
                session.stream_spoke(kind)
                await self._handle(session, kind, rows)
                drop_raw(kind, rows)
                continue
            if signal is None:
                return False
            if not streaming(client):
                return True
            await signal.wait(partial(rows_waiting, client, kind))

    def _stream_failed(
        self, session: AccountSession, kind: str, error: Exception, backoff: Attempts
    ) -> float:
        """Account for one failed ``watch_*`` call; the delay before the next try."""
        ctx = self.context
        ref = session.ref
        ours = translate(error, f"{ref.venue} watch {kind}", session.client)
        if isinstance(ours, CredentialsError):
            message = f"{_WS_AUTH}{ours}"
            session.error = message
            ctx.set_status(ref.ex_id, "error", message)
            renewed = ctx.registry.renew_credentials(session)
            delay = 0.0 if renewed else backoff.next(at_least_s=ctx.timing.poll_interval_s)
            _log.warning(
                "stream credentials rejected; account in error",
                ex_id=ref.ex_id,
                kind=kind,
                delay_s=round(delay, 2),
                renewed=renewed,
                error=str(ours),
            )
            return delay
        ctx.sensor.on_reconnect(ref.venue)
        demoted = ctx.detector.record_failure(ref.ex_id, kind)
        delay = backoff.next()
        _log.info(
            "stream failed; reconnecting",
            ex_id=ref.ex_id,
            kind=kind,
            delay_s=round(delay, 2),
            moved_to_rest=demoted,
            error=str(ours)[:200],
        )
        return delay

    async def _handle(self, session: AccountSession, kind: str, result: Any) -> None:
        """Publish one message; if that raises, dead-letter the message and read the next one.

        A publish that had to wait for room in the outbox is a backlog, not a gap: it asks for no
        reconciliation (at saturation that re-read every account's history every few seconds).
        What ccxt's bounded caches push out meanwhile is read by the next audit, as for any burst
        (``clients.WS_OPTIONS``)."""
        try:
            await self._dispatch(session, kind, result)
        except Exception as e:
            ref = session.ref
            letter = message_dead_letter(ref, kind, e, result)
            _log.error(
                "websocket message not handled; dead-lettered",
                ex_id=ref.ex_id,
                kind=kind,
                reason=letter.reason,
                payload=preview(letter.payload),
            )
            await self.context.outbox.put((), [letter])
            session.request_reconcile()


def _cover(session: AccountSession, kind: str) -> None:
    """Have REST cover a kind whose stream is down. The ledger is read once (its stream may stay
    quiet for hours after it is back, which must not keep the poller at its fast pace); the
    reconciliation after the reconnect reads it again."""
    if kind == LEDGER:
        session.request_rest_once(LEDGER)
    else:
        session.request_poll(kind)
