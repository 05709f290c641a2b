"""Following a cached stream frame by frame, without a ``watch_*`` call per message.

Each ``watch_*`` call pays ccxt's subscription bookkeeping before it waits (the futures of
``Future.race``, the subscription checks, a callback on the connection's future), once per message
while the collector called it for every message (issue 18, bench/RESULTS.md "Stop 34"). For the
kinds ccxt keeps as rows (orders and fills, ``ws_backlog``) the collector calls ``watch_*`` once,
then takes what each later frame adds straight from the cache (``held_back``), woken by the
account client's ``FrameSignal`` only when a frame left rows there.

It goes back to ``watch_*`` (which reconnects a dropped socket) as soon as ``streaming`` is false:
a socket the client opened is closed, still connecting or failed. A refusal no call took fails its
socket (``ws_guard``), so none waits on an open socket for a ``watch_*`` call to take it. The guard
wakes every follower when a socket fails or closes, so none waits on a socket that ended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

Ready = Callable[[], bool]


class FrameSignal:
    """An account client's followers, each waiting until its cache holds rows no one took."""

    __slots__ = ("_waiters", "gaps")

    def __init__(self) -> None:
        self._waiters: list[tuple[Ready, asyncio.Future[None]]] = []
        self.gaps = 0
        """Times one of the client's sockets may have lost messages so far (``gap``)."""

    def frame(self) -> None:
        """A frame was handled: wake the followers whose cache it filled."""
        if not self._waiters:
            return
        waiting = []
        for ready, waiter in self._waiters:
            if waiter.done():
                continue
            if ready():
                waiter.set_result(None)
            else:
                waiting.append((ready, waiter))
        self._waiters = waiting

    def ended(self) -> None:
        """A call was rejected or a socket ended: wake every follower, so each sees whether its
        client still streams (``streaming``) and goes back to ``watch_*`` if not."""
        waiters, self._waiters = self._waiters, []
        for _, waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def gap(self) -> None:
        """A socket may have lost messages: it failed or closed (ccxt rejected every pending call
        at once), or the venue rejected a call on it (a subscription refused). Wakes every
        follower."""
        self.gaps += 1
        self.ended()

    async def wait(self, ready: Ready) -> None:
        """Return once ``ready()`` holds after a frame, or a socket failed or closed."""
        if ready():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((ready, waiter))
        await waiter


def frame_signal(client: Any) -> FrameSignal | None:
    """The client's signal (``None`` for a client the guard was not attached to)."""
    signal = getattr(client, "_fullon_frames", None)
    return signal if isinstance(signal, FrameSignal) else None


def stream_gaps(client: Any) -> int | None:
    """How many times the client's sockets may have lost messages so far (``FrameSignal.gap``;
    ``None`` without the guard)."""
    signal = frame_signal(client)
    return None if signal is None else signal.gaps


def streaming(client: Any) -> bool:
    """True while every socket ``client`` opened is open: only then may a follower skip ccxt. A
    socket ccxt made but never opened (a venue's public URL, say) does not count; one still
    connecting does, as not streaming."""
    sockets = [
        ws
        for ws in (getattr(client, "clients", None) or {}).values()
        if ws.connection is not None or ws.connecting
    ]
    return bool(sockets) and not any(ws.connecting or ws.closed() or ws.error is not None for ws in sockets)
