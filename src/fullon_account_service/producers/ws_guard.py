"""What every account client adds to its ccxt class: a guarded frame reader, the key lock, a rate
limiter that does not spin.

``guarded_class(klass)`` subclasses a ccxt.pro exchange class (once per class) with these changes,
no fork of ccxt:

- **A bad frame never stops a socket.** ccxt reads a WebSocket in ``Client.receive_loop``, which
  schedules its next read only after ``handle_message`` returned; a frame that raises there (a
  truncated or malformed JSON text, a payload the venue's parser chokes on) leaves the socket
  unread until the keepalive gives up seconds later. Every client the exchange opens gets a
  ``handle_message`` that catches the error and hands the frame to ``on_bad_frame`` (the session
  dead-letters it and asks for a reconciliation), so the next frame is read at once. Each frame
  also stamps the time of the last frame per socket, which the silence watchdog reads, and for a
  random sample of frames the reading thread's CPU time inside ccxt goes to ``on_frame`` (the
  sensor's ``on_ws_frame``): thread CPU time, unlike a profiler's samples or the wall clock, does
  not grow while the thread waits for a core on a loaded machine.
- **A socket that delivers frames is alive.** ccxt's keepalive fails a socket when no pong was
  handled for two ping intervals (``Client.ping_loop``: 12 s on Kraken), but a pong is read in
  order, behind every frame already buffered, so a socket whose frames wait for a busy producer
  looked dead while it delivered (bench/RESULTS.md "Stop 35"). Every frame handled counts as a
  pong: a socket is failed only once nothing at all was read for two ping intervals.
- **A refusal no call took reopens its socket.** A venue's refusal (a subscription it turned
  down) that comes while no call waits for it is kept by ccxt under the hash the reply names, for
  a later call of that hash to raise. Kraken's reply names the request's ``req_id``, which no call
  ever asks for, while the refused subscription stays in ccxt's book as made: that stream would
  stay silent on a socket that answers every ping, its kind read only by the audits, and the
  account would look healthy. Hyperliquid's error channel rejects every pending call and leaves
  the socket open with the same book. The guard fails such a socket with the refusal
  (``on_error``): every loop on it is rejected, REST covers its kind, and each subscribes again
  on a new socket; a venue that keeps refusing moves the kinds to REST (``CapabilityDetector``).
  A refusal of one pending call is that call's error, raised by ccxt as it is.
- **Ledger rows ccxt does not parse are kept.** Each frame ccxt handled is then shown to the
  venue's ledger reading (``ws_ledger``), which buffers the ledger rows it carries.
- **Followers wake on the frames that concern them.** After each frame, handled or bad, the
  client's ``FrameSignal`` wakes the collector loops following a cache (``ws_follow``) whose cache
  it filled. A socket that fails or closes wakes them all, so each goes back to ``watch_*``: ccxt
  then rejects every pending call (``Client.on_error`` always, ``on_close`` unless an error did
  already), and the guard's ``reject`` wakes them.
- **Every signed request holds the key's lock.** ``fetch2`` (where ccxt signs and sends each
  REST request, the WebSocket token Kraken's ``watch_*`` fetch inside ``authenticate`` included)
  runs under the lock ``attach`` gave the client, so requests signed with one API key are signed
  and sent one at a time and venues that check nonces (Kraken) see them strictly increase.
  ``sign`` asks ``may_sign`` (the lease book's answer, when leases are on) first, as late as
  possible (after the lock and ccxt's rate-limit wait, right before the request is built and
  sent): a producer whose lease on the key is no longer sure to be its own (its renewals failed,
  or its process was paused past the TTL) raises ``StaleLeaseError`` instead of signing. Only
  REST requests go through ``sign``: a socket already logged in keeps reading.
- **A bounded read holds its place only from a request's sending to its next request.** Each
  request gives its read's place back as it enters ``fetch2`` and takes it again once the rate
  limiter lets it go (``read_places``), so reads waiting on a venue's rate limit hold none.
- **REST requests wait for the rate limit in one sleep.** The client's throttler is
  ``rate_limit.ExactThrottler``: ccxt's leaky bucket with the same pace, which wakes the event loop
  once per wait instead of every millisecond of it.
- **One reader task per socket, a backlog read a batch at a time.** ccxt reads a socket by
  starting a task per frame (``Client.receive_loop``); the guard reads it with one task per
  connection (``_read``), same order, same close and error handling. ccxt's loop also handed
  every frame already in aiohttp's buffer over in one synchronous loop: a producer behind by
  tens of thousands of frames then held the event loop for seconds, long enough that its lease
  renewals went unconfirmed and its accounts stopped signing (issue 18). The reader lets the
  other tasks run after every ``DRAIN_BATCH`` frames, so a renewal's reply is read between two
  batches.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import nullcontext
from random import random
from typing import Any

import ccxt

from fullon_account_service.errors import StaleLeaseError
from fullon_account_service.logs import get_logger
from fullon_account_service.producers import read_places
from fullon_account_service.producers.rate_limit import ExactThrottler
from fullon_account_service.producers.ws_follow import FrameSignal
from fullon_account_service.producers.ws_ledger import LedgerBuffer, LedgerTap
from fullon_account_service.supervisor import TaskSupervisor

BadFrameHandler = Callable[[str, BaseException, Any], None]
"""``(url, error, raw frame data)``; called from ccxt's reader callback, so it must not block."""

FrameHandler = Callable[[float, int], None]
"""Called with the reading thread's CPU seconds inside ccxt's handling of a good frame, timed at
random, and how many frames it stands for (``FRAME_SAMPLE``)."""
FRAME_SAMPLE = 4
"""One good frame in this many, drawn at random, is timed: reading a thread's CPU clock is a
system call (~2 us here), twice per frame ~0.7 % of the producer's CPU per message if every frame
were timed, ~0.2 % for one in 4; one in 16 left the estimate +-15 % over a 20 s bench step.
Random, not every n-th, so a venue's fixed frame order cannot bias the sample."""
_TIMED_SHARE = 1.0 / FRAME_SAMPLE
DRAIN_BATCH = 32
"""Buffered frames read in one turn of the event loop: ccxt parses a private frame in ~0.1-0.5 ms
here, so a batch holds the loop ~3-15 ms, under the 20 ms the e2e probe reports as a stall, while
the cost of one more turn per batch (a ``sleep(0)``) stays negligible."""

_log = get_logger("producers.ws_guard")
_classes: dict[type, type] = {}


class _GuardedExchange:
    """Mixin placed before the ccxt class; attributes are set per instance by ``attach``."""

    _fullon_lock: Any = None
    _fullon_may_sign: Callable[[], bool] | None = None
    _fullon_on_bad_frame: BadFrameHandler | None = None
    _fullon_on_frame: FrameHandler | None = None
    _fullon_last_frame: dict[str, float] | None = None
    _fullon_ledger: LedgerBuffer | None = None
    _fullon_frames: FrameSignal | None = None
    _fullon_readers: TaskSupervisor | None = None

    def handle_message(self, client: Any, message: Any) -> Any:
        result = super().handle_message(client, message)  # type: ignore[misc]
        if self._fullon_ledger is not None:
            self._fullon_ledger.feed(client, message)
        return result

    def client(self, url: str) -> Any:
        ws_client = super().client(url)  # type: ignore[misc]
        if not getattr(ws_client, "_fullon_guarded", False):
            _guard(self, ws_client)
        return ws_client

    async def fetch2(self, *args: Any, **kwargs: Any) -> Any:
        read_places.give_back()
        async with self._fullon_lock or nullcontext():
            if not self.enableRateLimit:  # type: ignore[attr-defined]
                await read_places.take()
            return await super().fetch2(*args, **kwargs)  # type: ignore[misc]

    async def throttle(self, cost: Any = None) -> Any:
        result = await super().throttle(cost)  # type: ignore[misc]
        await read_places.take()
        return result

    def init_throttler(self, cost: Any = None) -> None:
        self.throttler = ExactThrottler(self.tokenBucket, self.asyncio_loop)  # type: ignore[attr-defined]

    def sign(self, *args: Any, **kwargs: Any) -> Any:
        may_sign = self._fullon_may_sign
        if may_sign is not None and not may_sign():
            raise StaleLeaseError("the lease on this API key is not confirmed; not signing")
        return super().sign(*args, **kwargs)  # type: ignore[misc]


def _guard(exchange: _GuardedExchange, ws_client: Any) -> None:
    original = ws_client.handle_message
    url = str(ws_client.url)
    if exchange._fullon_last_frame is not None:
        exchange._fullon_last_frame[url] = time.monotonic()

    def handle_message(message: Any) -> None:
        ws_client.lastPong = time.time_ns() // 1_000_000  # ccxt's clock (Exchange.milliseconds)
        stamps = exchange._fullon_last_frame
        if stamps is not None:
            stamps[url] = time.monotonic()
        on_frame = exchange._fullon_on_frame
        timed = on_frame is not None and random() < _TIMED_SHARE
        started = time.thread_time() if timed else 0.0
        try:
            original(message)
        except Exception as e:
            _bad_frame(exchange, url, e, message)
        else:
            if timed and on_frame is not None:
                on_frame(time.thread_time() - started, FRAME_SAMPLE)
        frames = exchange._fullon_frames
        if frames is not None:
            frames.frame()

    original_reject = ws_client.reject

    def reject(result: Any, message_hash: Any = None) -> Any:
        unclaimed = message_hash is None or message_hash not in ws_client.futures
        try:
            return original_reject(result, message_hash)
        finally:
            frames = exchange._fullon_frames
            # a socket that ended, or one that rejected a call it sent, may have lost messages; a
            # rejection on a socket never opened (where ccxt keeps Kraken's token) lost none
            if frames is not None and (message_hash is None or ws_client.connection is not None):
                frames.gap()
            elif frames is not None:
                frames.ended()
            if unclaimed and ws_client.error is None and not ws_client.closed():
                _refused(ws_client, result, message_hash)

    ws_client.handle_message = handle_message
    ws_client.reject = reject
    ws_client.receive_loop = _reader(exchange, ws_client)
    ws_client._fullon_guarded = True


def _refused(ws_client: Any, error: Any, message_hash: Any) -> None:
    """A rejection on an open socket that no pending call took alone: fail the socket with it, so
    that every loop on it subscribes again on a new one (module docstring)."""
    _log.warning(
        "websocket call refused; reopening the socket",
        url=str(ws_client.url),
        refused="every pending call" if message_hash is None else str(message_hash),
        error=f"{type(error).__name__}: {str(error)[:200]}",
    )
    ws_client.on_error(error)


def _reader(exchange: _GuardedExchange, ws_client: Any) -> Callable[[], None]:
    """What ccxt's ``open`` calls once a connection is up (its ``receive_loop``): start the
    connection's reader task."""

    def receive_loop() -> None:
        readers = exchange._fullon_readers
        if readers is None:
            readers = exchange._fullon_readers = TaskSupervisor("ws_reader")
        readers.spawn(_read(ws_client), name=f"ws-reader {ws_client.url}")

    return receive_loop


async def _read(ws_client: Any) -> None:
    """ccxt's ``receive_loop`` as one task per connection: each frame to ``handle_message``, in
    order; a failed read fails the socket (ccxt's loop only rejected the pending calls and left it
    unread until its keepalive gave up); once the socket is closed, ``on_close(1006)``.
    ccxt's own loop starts a new task and runs two more callbacks for every frame (issue 18:
    bench/RESULTS.md "Stop 34"). A backlog waiting in aiohttp's buffer is read without a turn of
    the event loop between frames, so every ``DRAIN_BATCH`` frames the reader lets the others run."""
    handled = 0
    while not ws_client.closed():
        try:
            message = await ws_client.receive()
        except Exception as e:
            ws_client.on_error(ccxt.NetworkError(str(e)))
            return
        ws_client.handle_message(message)
        handled += 1
        if handled % DRAIN_BATCH == 0:
            await asyncio.sleep(0)
    ws_client.on_close(1006)


def _bad_frame(exchange: _GuardedExchange, url: str, error: Exception, message: Any) -> None:
    handler = exchange._fullon_on_bad_frame
    if handler is None:
        _log.warning("bad websocket frame skipped", url=url, error=f"{type(error).__name__}")
        return
    try:
        handler(url, error, getattr(message, "data", message))
    except Exception as inner:  # the reader must go on whatever the handler does
        _log.error("bad-frame handler failed", url=url, error=repr(inner))


def guarded_class(klass: type) -> type:
    """``klass`` with the guarded reader and the key lock (one subclass per ccxt class)."""
    guarded = _classes.get(klass)
    if guarded is None:
        guarded = type(klass.__name__, (_GuardedExchange, klass), {"__module__": __name__})
        _classes[klass] = guarded
    return guarded


def attach(
    client: Any,
    *,
    lock: Any = None,
    on_bad_frame: BadFrameHandler | None = None,
    ledger_tap: LedgerTap | None = None,
    may_sign: Callable[[], bool] | None = None,
    on_frame: FrameHandler | None = None,
) -> None:
    """Give an account client its key lock, its lease check, its bad-frame handler, its ledger
    buffer, what it tells of each frame's CPU cost and the signal its followers wait on."""
    client._fullon_lock = lock
    client._fullon_on_frame = on_frame
    client._fullon_may_sign = may_sign
    client._fullon_on_bad_frame = on_bad_frame
    client._fullon_last_frame = {}
    client._fullon_ledger = LedgerBuffer(ledger_tap) if ledger_tap is not None else None
    client._fullon_frames = FrameSignal()


def touch(client: Any, url: str, now: float) -> None:
    """Count ``now`` as a frame on ``url`` (the watchdog just acted on its silence)."""
    stamps = getattr(client, "_fullon_last_frame", None)
    if isinstance(stamps, dict):
        stamps[url] = now


def last_frames(client: Any) -> dict[str, float]:
    """Monotonic time of the last frame read per socket URL (empty for an unguarded client)."""
    stamps = getattr(client, "_fullon_last_frame", None)
    return dict(stamps) if isinstance(stamps, dict) else {}
