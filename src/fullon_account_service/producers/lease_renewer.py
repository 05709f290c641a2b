"""Lease renewal on a thread of its own, so that a held event loop cannot make a renewal late.

At 1,000 accounts the producer's loop is held for seconds at a time (turns of thousands of
callbacks, gen-2 collections), and a renewal waiting on it for its round trip came back past the
local bound, or past the TTL: every lease was lost at once (RESULTS "h2, stop 26"). Here the round
trip runs on a thread with its own event loop and its own Redis client (``redis_client.twin``: the
same server, the embedded fakeredis one included), and the answers extend the signing bounds in
the fence book directly (``LeasePool.renew``, under the pool's guard, so a lease the loop dropped
meanwhile is never extended again). A bound still comes only from a renewal Redis confirmed: its
start plus the TTL, less one interval. The thread shares the interpreter with the loop: a callback
running Python hands it the GIL every few milliseconds, but a garbage collection pauses it too
(up to 1.5 s measured at 1,000 accounts; a renewal has TTL - 2 x interval to spare, 5 s by
default).

A stuck loop must not keep its leases for ever: a loop task stamps the time every ``STAMP_S``, and
the thread renews only while the stamp is younger than ``stall_s``. Past it, the leases lapse in
Redis within the TTL and the other producers take them; fencing refuses the stuck producer's late
writes, and its accounts stopped signing at their bound already.

A renewal Redis did not answer is logged (one line) and tried again at the next interval, within
the bound (``LeasePool.renew``); anything else that escapes a round is logged and the round tried
again after the outage policy's delay, never sooner than one interval, so the thread never spins;
a round Redis holds past two intervals is given up the same way.
``close`` ends the thread and waits for it within a bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable

import redis.asyncio as aioredis

from fullon_account_service.logs import get_logger
from fullon_account_service.producers.lease_pool import LeasePool
from fullon_account_service.producers.leases import LeaseStore
from fullon_account_service.redaction import redact_text
from fullon_account_service.retry import RetryPolicy
from fullon_account_service.supervisor import TaskSupervisor

_log = get_logger("producers.lease_renewer")

STAMP_S = 1.0
"""How often the loop stamps that it turns."""


class LeaseRenewer:
    def __init__(
        self,
        pool: LeasePool,
        store: LeaseStore,
        connect: Callable[[], aioredis.Redis],
        *,
        renew_s: float,
        stall_s: float,
        retry: RetryPolicy,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``connect`` builds the thread's client (on the thread); ``clock`` is the pool's, for
        the stamp. The interval between rounds is real time on the thread."""
        self._pool = pool
        self._store = store
        self._connect = connect
        self._renew_s = renew_s
        self._stall_s = stall_s
        self._retry = retry
        self._clock = clock
        self._stamp = clock()
        self._stalled = False
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.rounds = 0
        """Rounds begun on the thread, renewed or skipped (a stuck loop)."""

    @property
    def running(self) -> bool:
        """Whether the thread is alive (after ``close``: still in a round it could not end)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, tasks: TaskSupervisor, stop: asyncio.Event) -> None:
        """Stamp the loop's turns until ``stop`` and start the thread (which ``stop`` does not
        end: the leases are kept while the accounts shut down; ``close`` ends it)."""
        self._loop = asyncio.get_running_loop()
        self._stamp = self._clock()
        tasks.spawn(self._stamp_turns(stop), name="daemon-lease-stamp")
        self._thread = threading.Thread(target=self._run, name="lease-renewal", daemon=True)
        self._thread.start()

    async def close(self, timeout_s: float) -> None:
        """End the thread; one still in a round after ``timeout_s`` is left to end by itself (a
        daemon thread: it does not hold the process)."""
        self._halt.set()
        thread = self._thread
        if thread is None:
            return
        await asyncio.to_thread(thread.join, timeout_s)
        if thread.is_alive():
            _log.warning("lease renewal thread still busy at shutdown; leaving it", timeout_s=timeout_s)

    async def _stamp_turns(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._stamp = self._clock()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STAMP_S):
                    await stop.wait()

    def _run(self) -> None:
        """The thread: a round every ``renew_s`` from the start of the previous one, on an event
        loop of its own, until ``close``."""
        attempts = self._retry.start()
        with asyncio.Runner() as runner:
            redis = self._connect()
            store = self._store.on(redis)
            wait = 0.0
            try:
                while not self._halt.wait(wait):
                    started = time.monotonic()
                    try:
                        runner.run(self._round(store))
                        attempts = self._retry.start()
                        wait = max(started + self._renew_s - time.monotonic(), 0.0)
                    except Exception as e:
                        wait = max(attempts.next(), self._renew_s)
                        _log.error(
                            "lease renewal round failed; retrying",
                            delay_s=round(wait, 2),
                            error=redact_text(f"{type(e).__name__}: {e}")[:300],
                        )
            finally:
                runner.run(redis.aclose())

    async def _round(self, store: LeaseStore) -> None:
        self.rounds += 1
        if self._clock() - self._stamp > self._stall_s:
            if not self._stalled:
                _log.error("event loop stuck; leases no longer renewed, they lapse", stall_s=self._stall_s)
            self._stalled = True
            return
        if self._stalled:
            _log.warning("event loop turning again; renewing leases")
            self._stalled = False
        # a round gets two intervals: Redis may not answer at all (no socket timeout), and with the
        # default TTL of three intervals a later answer would extend no bound anyway
        async with asyncio.timeout(2 * self._renew_s):
            lost = await self._pool.renew(store)
        if lost and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nothing left to wake
                self._loop.call_soon_threadsafe(self._pool.wake)
