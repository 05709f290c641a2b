"""A socket with a backlog of frames in aiohttp's buffer lets other tasks run between batches of
them (issue 18: ccxt read the whole backlog in one turn of the event loop, so a producer far
behind starved its own lease renewals), and still hands every frame over once, in order; the
guard's one reader task per connection ends the way ccxt's loop does."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import deque
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import ccxt.pro
import pytest
from aiohttp import WSMessage, WSMsgType

from fullon_account_service.producers import ws_follow, ws_guard

URL = "wss://venue.test/private"
BACKLOG = 20 * ws_guard.DRAIN_BATCH + 5
DEADLINE_S = 60.0


def _frame(n: int) -> WSMessage:
    return WSMessage(WSMsgType.TEXT, json.dumps({"n": n}), None)


class _Connection:
    """aiohttp's socket as ccxt reads it: ``receive`` answers at once from the buffer, without a
    turn of the event loop, and waits once it is empty."""

    def __init__(self, frames: deque[WSMessage]) -> None:
        self.closed = False
        self.frames = frames
        self.more: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def receive(self) -> WSMessage:
        if not self.frames:
            await self.more
        return self.frames.popleft()


@pytest.fixture
async def venue() -> AsyncIterator[Any]:
    venue = ws_guard.guarded_class(ccxt.pro.kraken)()
    ws_guard.attach(venue)
    try:
        yield venue
    finally:
        await venue.close()


async def test_a_backlog_is_read_in_batches_with_other_tasks_run_between(venue: Any) -> None:
    socket = venue.client(URL)
    connection = _Connection(deque(_frame(n) for n in range(BACKLOG)))
    socket.connection = connection
    read: list[int] = []
    socket.on_message_callback = lambda _client, message: read.append(message["n"])
    seen_by_other_task: list[int] = []

    async def other_task() -> None:
        while len(read) < BACKLOG:
            seen_by_other_task.append(len(read))
            await asyncio.sleep(0)

    other = asyncio.ensure_future(other_task())
    socket.receive_loop()
    async with asyncio.timeout(DEADLINE_S):
        await other

    assert read == list(range(BACKLOG)), "every frame, once, in order"
    distinct = sorted(set(seen_by_other_task))
    assert len(distinct) >= BACKLOG // ws_guard.DRAIN_BATCH - 1, "the other task ran between batches"
    steps = [b - a for a, b in itertools.pairwise([0, *distinct])]
    assert max(steps) <= ws_guard.DRAIN_BATCH, "no turn of the loop reads more than one batch"
    connection.more.cancel()


async def test_the_reader_ends_as_ccxt_does_on_close_and_fails_the_socket_on_a_failed_read(
    venue: Any,
) -> None:
    """ccxt's loop only rejected the pending calls on a failed read and left the socket unread
    until its keepalive gave up; the reader fails it at once."""
    closed = venue.client(URL)
    closed.connection = _Connection(deque([_frame(1)]))
    codes: list[Any] = []
    closed.on_message_callback = lambda _client, _message: setattr(closed.connection, "closed", True)
    closed.on_close = codes.append
    closed.receive_loop()

    failed = venue.client(URL + "/2")
    failed.connection = SimpleNamespace(closed=False, receive=_fails)
    errors: list[Any] = []
    failed.on_error = errors.append
    failed.receive_loop()

    async with asyncio.timeout(DEADLINE_S):
        while not codes or not errors:
            await asyncio.sleep(0.01)
    assert codes == [1006], "a socket found closed after a frame is closed once, as ccxt's loop does"
    assert isinstance(errors[0], ccxt.NetworkError) and "reset by peer" in str(errors[0])


async def _fails() -> WSMessage:
    raise ConnectionResetError("reset by peer")


class _Feed:
    """A socket whose frames come one by one from a test, and whose pings are never answered."""

    def __init__(self) -> None:
        self.closed = False
        self.frames: asyncio.Queue[WSMessage] = asyncio.Queue()
        self.pings: list[str] = []

    async def receive(self) -> WSMessage:
        return await self.frames.get()

    async def send_str(self, message: str) -> None:
        self.pings.append(message)


async def test_a_socket_that_delivers_frames_is_not_timed_out_by_the_keepalive(venue: Any) -> None:
    """A pong is read behind every frame already buffered, so a producer behind by a burst saw
    ccxt's keepalive (no pong for two ping intervals) fail sockets that were delivering all along
    (bench/RESULTS.md "Stop 35"). A frame read is proof enough; a socket that reads nothing at all
    is still failed, on ccxt's own schedule."""
    socket = venue.client(URL)
    socket.keepAlive = 250  # ms: two intervals without a pong would fail it after 0.5 s
    feed = _Feed()
    socket.connection = feed
    errors: list[BaseException] = []
    socket.on_error = errors.append
    socket.on_message_callback = lambda _client, _message: None
    socket.receive_loop()
    pinging = asyncio.ensure_future(socket.ping_loop())
    try:
        loop = asyncio.get_running_loop()
        until = loop.time() + 2.5  # ten ping intervals, none answered
        n = 0
        while loop.time() < until:
            feed.frames.put_nowait(_frame(n))
            n += 1
            await asyncio.sleep(0.02)
        assert len(feed.pings) >= 2, "ccxt's keepalive was pinging all along"
        assert errors == [], "frames kept coming: the socket is alive without a pong"
        async with asyncio.timeout(DEADLINE_S):
            while not errors:
                await asyncio.sleep(0.05)
        assert isinstance(errors[0], ccxt.RequestTimeout), "no frame and no pong: failed as before"
    finally:
        pinging.cancel()
        feed.closed = True
        feed.frames.put_nowait(_frame(-1))
        await asyncio.gather(pinging, return_exceptions=True)


async def test_a_socket_that_ended_or_refused_a_call_is_a_gap_a_token_socket_is_not(venue: Any) -> None:
    """The collector reconciles an account after a gap (``live_collector``): a socket that ended
    (ccxt rejects every pending call, no message hash) or a call the venue refused on an open
    socket may have lost messages; a rejection on a socket never opened (ccxt keeps Kraken's
    token on one) lost none."""
    opened = venue.client(URL)
    opened.connection = _Feed()
    token = venue.client(URL + "/token")
    assert ws_follow.stream_gaps(venue) == 0

    token.reject(ccxt.RequestTimeout("token read timed out"), "authenticateFlight")
    assert ws_follow.stream_gaps(venue) == 0, "nothing was read on that socket"
    refused = opened.future("executions")
    opened.reject(ccxt.BadRequest("subscription refused"), "executions")
    assert isinstance(refused.exception(), ccxt.BadRequest), "a pending call's refusal is its error"
    assert ws_follow.stream_gaps(venue) == 1 and opened.error is None
    opened.connection.closed = True  # reset by the peer
    opened.reject(ccxt.NetworkError("connection reset"))
    assert ws_follow.stream_gaps(venue) == 2


async def test_a_refusal_no_pending_call_took_fails_its_socket(venue: Any) -> None:
    """ccxt keeps a refusal no call waits for under the hash the reply names, on Kraken the
    request's ``req_id``, which no call asks for, while the refused subscription stays in its
    book as made; Hyperliquid's error channel rejects every pending call and leaves the socket
    open. The guard fails the socket with either, so every loop subscribes again on a new one. A
    refusal of one pending call is that call's error and leaves the socket alone."""
    opened = venue.client(URL)
    opened.connection = _Feed()
    failed: list[BaseException] = []
    opened.on_error = failed.append
    pending = opened.future("balances")
    opened.reject(ccxt.BadRequest("balances refused"), "balances")
    assert isinstance(pending.exception(), ccxt.BadRequest) and failed == []

    refusal = ccxt.BadRequest("ESession:Invalid session")
    opened.reject(refusal, "987654")
    assert failed == [refusal]

    other = venue.client(URL + "/other")
    other.connection = _Feed()
    other.on_error = failed.append
    everything = ccxt.ExchangeError("hyperliquid Error parsing JSON into valid websocket request")
    other.reject(everything)  # Hyperliquid's error channel: every pending call, the socket open
    assert failed == [refusal, everything]
