"""``RestAccountPoller``: one REST loop per account, one sleep per cycle.

Each cycle reads what the strategy leaves to REST, plus any stream the collector reported down or
silent, plus what the collector asked for once (the open orders after a WebSocket fill). The
first cycle, and the one after a WebSocket reconnect, reads everything (a reconciliation). The
kinds on WebSocket are audited (everything read again from the cursors, as REST) so a message a
stream lost still reaches the bus: at the poll interval while the streams report fills or orders,
every ``ACCOUNT_AUDIT_INTERVAL_S`` while they are quiet. Reads start at the cursors, so an audit
reads what changed since the last one, plus twice the venue's clock skew. An account at rest thus
reads, each cycle, only the kinds its strategy leaves to REST (none on a venue that streams them
all), and everything once per quiet audit: a stream that is merely quiet is not polled
(``ws_watchdog``). At most ``ACCOUNT_MAX_AUDITS`` (10) audits hold a venue's answer at once: at
100 accounts behind a burst every audit came due together, each holding its decoded history page
and the events made from it until the bus took them; the others wait their turn with nothing in
memory. A place is held from a request's sending to the audit's next request (``read_places``),
not while the venue's rate limit spaces its requests, so ten places serve many more audits than
ten at a time; one waiting between two pages holds its walk, not the pages it read (the orders
read keeps only the ids it looks up, ``order_history``). A late audit delays only what it
catches that a stream lost: the kinds an account polls are read at once when every place is
taken, and the cycles that are not audits never wait.
Reconciliations (start, reconnect, a lease taken back) have places of their own,
``ACCOUNT_MAX_RECONCILIATIONS`` (50), held the same way: after a producer lost its leases at 100
accounts, all 100 reconciled at once, each holding its pages, and that burst set the heap's
high-water mark (bench/RESULTS.md "h3, stop 27"); one that waits is late, never skipped, and never
waits behind audits.
The errors REST calls and Redis raise (translated to ours) never end the loop:

- rate limited (429, DDoS protection): honour Retry-After, back off with jitter, cycle again;
  the cursor has not moved, so nothing is lost, only later;
- transient (network, venue outage): back off with jitter;
- credentials rejected: the account is marked in error with the reason and retried slowly;
  other accounts are unaffected.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

from fullon_account_service.contract import Source
from fullon_account_service.errors import AccountServiceError, CredentialsError, RateLimited, TransientError
from fullon_account_service.logs import get_logger
from fullon_account_service.producers import read_places
from fullon_account_service.producers.account import AccountRef, account_ref
from fullon_account_service.producers.context import ProducerContext
from fullon_account_service.producers.reconcile import ALL_KINDS, OPEN_ORDERS
from fullon_account_service.producers.session import AccountSession
from fullon_account_service.retry import Attempts
from fullon_account_service.supervisor import TaskSupervisor

_log = get_logger("producers.rest_poller")
_WS_TO_REST = {
    "balance": "balance",
    "orders": "orders",
    "positions": "positions",
    "my_trades": "fills",
    "ledger": "ledger",
}


class RestAccountPoller:
    def __init__(
        self,
        exchanges: Sequence[Any] | None = None,
        poll_interval: float | None = None,
        *,
        context: ProducerContext | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock`` paces the audits (seconds, monotonic); tests step it by hand."""
        self._exchanges = list(exchanges or [])
        self._context = context
        self._clock = clock
        self._poll_interval = poll_interval
        self._tasks = TaskSupervisor("rest_poller")
        self._loops: dict[int, asyncio.Task[None]] = {}
        self.cycles: dict[int, int] = {}

    @property
    def context(self) -> ProducerContext:
        if self._context is None:
            self._context = ProducerContext.from_settings()
        return self._context

    @cached_property
    def _reading(self) -> asyncio.Semaphore:
        """Places for audits (not reconciliations, nor the cycles that are not audits) across the
        producer: ``ACCOUNT_MAX_AUDITS``."""
        return asyncio.Semaphore(self.context.settings.max_audits)

    @cached_property
    def _reconciling(self) -> asyncio.Semaphore:
        """Places for reconciliations across the producer: ``ACCOUNT_MAX_RECONCILIATIONS``."""
        return asyncio.Semaphore(self.context.settings.max_reconciliations)

    @property
    def poll_interval(self) -> float:
        return self._poll_interval if self._poll_interval is not None else self.context.timing.poll_interval_s

    async def start_polling(self) -> None:
        for exchange in self._exchanges:
            await self.start_exchange(exchange)

    async def start_exchange(self, exchange: Any) -> None:
        ref = account_ref(exchange)
        if self.is_polling(ref):
            return
        self.context.outbox.start()
        self._loops[ref.ex_id] = self._tasks.spawn(self._run(ref), name=f"poll-{ref.venue}-{ref.ex_id}")

    def is_polling(self, exchange: Any) -> bool:
        ex_id = exchange.ex_id if isinstance(exchange, AccountRef) else account_ref(exchange).ex_id
        task = self._loops.get(ex_id)
        return task is not None and not task.done()

    async def stop_exchange(self, exchange: Any) -> None:
        ex_id = account_ref(exchange).ex_id
        task = self._loops.pop(ex_id, None)
        if task is not None:
            await self._tasks.cancel(task)

    async def stop_polling(self) -> None:
        """Cancel every account's loop at once (in-flight REST calls included)."""
        self._loops.clear()
        await self._tasks.cancel_all()

    def get_status(self) -> dict[str, Any]:
        return {
            "polling_exchanges": sorted(ex_id for ex_id, t in self._loops.items() if not t.done()),
            "poll_tasks": len(self._tasks),
            "poll_interval": self.poll_interval,
        }

    def _kinds(self, session: AccountSession, full: bool) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
        """What this cycle reads, what it would read were it not an audit (the kinds the strategy
        leaves to REST, a fast poll's, a read asked for once), and whether it is an audit (or a
        reconciliation)."""
        audit = full or self._audit_due(session)
        polled = set(session.rest_once)
        session.rest_once = set()
        caps = self.context.detector.capabilities(session.ref)
        polled |= {_WS_TO_REST[k] for k, on_ws in caps.items() if not on_ws}
        polled |= {_WS_TO_REST[k] for k in session.fast_poll if k in _WS_TO_REST}
        kinds = set(ALL_KINDS) if audit else polled
        order = (*ALL_KINDS, OPEN_ORDERS)
        return tuple(k for k in order if k in kinds), tuple(k for k in order if k in polled), audit

    def _audit_due(self, session: AccountSession) -> bool:
        if session.last_audit_at is None:
            return True
        timing = self.context.timing
        every = self.poll_interval if session.changed_since_audit else timing.audit_interval_s
        return self._clock() - session.last_audit_at >= every

    async def _run(self, ref: AccountRef) -> None:
        ctx = self.context
        backoff = ctx.retry.venue.start()
        session = await ctx.registry.acquire_with_retry(
            ref, backoff, lambda status, message: ctx.set_status(ref.ex_id, status, message)
        )
        try:
            await self._loop(session, backoff)
        finally:
            await ctx.registry.release(ref.ex_id)

    async def _loop(self, session: AccountSession, backoff: Attempts) -> None:
        ctx = self.context
        ref = session.ref
        full = True
        while True:
            full = full or session.reconcile_requested
            session.reconcile_requested = False
            session.wake_poller.clear()
            delay, wakeable = await self._cycle(session, full, backoff)
            if delay is None:
                full = False
                delay = ctx.timing.fast_poll_interval_s if session.fast_poll else self.poll_interval
            self.cycles[ref.ex_id] = self.cycles.get(ref.ex_id, 0) + 1
            await self._sleep(session, delay, wakeable, ctx.timing.fast_poll_interval_s)

    async def _cycle(
        self, session: AccountSession, full: bool, backoff: Attempts
    ) -> tuple[float | None, bool]:
        """One read; ``(None, _)`` on success, else the delay before the next try."""
        ctx = self.context
        ref = session.ref
        try:
            await self._read(session, full)
        except RateLimited as e:
            ctx.sensor.on_rate_limited(ref.venue)
            delay = backoff.next(at_least_s=e.retry_after_s or 0.0)
            ctx.set_status(ref.ex_id, "running", f"rate limited; next poll in {delay:.1f}s")
            return delay, False
        except CredentialsError as e:
            session.error = str(e)
            ctx.set_status(ref.ex_id, "error", str(e))
            renewed = ctx.registry.renew_credentials(session)
            _log.warning("account credentials rejected", ex_id=ref.ex_id, error=str(e), renewed=renewed)
            return (0.0 if renewed else backoff.next(at_least_s=self.poll_interval)), False
        except TransientError as e:
            ctx.set_status(ref.ex_id, "running", f"poll failed: {e}")
            _log.info("poll failed; retrying", ex_id=ref.ex_id, error=str(e))
            return backoff.next(), True
        except AccountServiceError as e:
            ctx.set_status(ref.ex_id, "error", str(e))
            _log.warning("poll failed", ex_id=ref.ex_id, error=str(e))
            return backoff.next(at_least_s=self.poll_interval), False
        backoff.reset()
        session.error = None
        ctx.set_status(ref.ex_id, "running", "collecting")
        return None, True

    async def _read(self, session: AccountSession, full: bool) -> None:
        """One cycle's reads; an audit that fails leaves the account due for another."""
        kinds, polled, audit = self._kinds(session, full)
        if audit:
            session.changed_since_audit = False
        bounded = audit and not full
        places = self._reading if bounded else self._reconciling if full else None
        try:
            if bounded and polled and self._reading.locked():
                # the reads this account polls do not wait behind other accounts' audits
                await self.context.reconciler.run(session, polled, Source.REST)
            async with read_places.taken_when_sent(places):
                await self.context.reconciler.run(session, kinds, Source.RECONCILE if full else Source.REST)
        except BaseException:
            session.changed_since_audit |= audit
            raise
        if audit:
            session.last_audit_at = self._clock()

    @staticmethod
    async def _sleep(session: AccountSession, delay: float, wakeable: bool, min_gap_s: float) -> None:
        """The cycle's one sleep: ``delay``, cut short by a wake-up but never below ``min_gap_s``."""
        if not wakeable:
            await asyncio.sleep(delay)
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(delay):
                await session.wake_poller.wait()
        except TimeoutError:
            return
        await asyncio.sleep(max(min(min_gap_s, delay) - (loop.time() - started), 0.0))
