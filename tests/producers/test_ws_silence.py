"""A socket that reads nothing at all for ``ACCOUNT_WS_SILENCE_S`` is failed (so its streams
reconnect) and the account reconciled; a socket that keeps reading, or one whose venue pings
rarely, is left alone."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import ccxt
import pytest
from producer_harness import eventually

from fullon_account_service.producers import ws_guard
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.context import Timing
from fullon_account_service.producers.normalise import Normaliser
from fullon_account_service.producers.session import AccountSession
from fullon_account_service.producers.ws_watchdog import socket_threshold_s, watchdog

URL = "ws://127.0.0.1:1/private"


class FakeSocket:
    def __init__(self, keepalive_ms: int = 0) -> None:
        self.url = URL
        self.keepAlive = keepalive_ms
        self.errors: list[BaseException] = []

    def closed(self) -> bool:
        return bool(self.errors)

    def on_error(self, error: BaseException) -> None:
        self.errors.append(error)


class FakeClient:
    def __init__(self, socket: FakeSocket) -> None:
        self.clients: dict[str, Any] = {URL: socket}


def _session(client: FakeClient) -> AccountSession:
    ref = AccountRef(ex_id=7, uid=1, venue="kraken")
    ws_guard.attach(client)
    return AccountSession(ref, client, Normaliser(ref, set(), str), asyncio.Lock())


async def test_a_silent_socket_is_failed_and_the_account_reconciled() -> None:
    socket = FakeSocket()
    client = FakeClient(socket)
    session = _session(client)
    ws_guard.touch(client, URL, time.monotonic())
    timing = Timing(ws_silence_s=0.2)
    task = asyncio.create_task(watchdog(session, timing))
    try:
        await eventually(lambda: _assert(len(socket.errors) == 1), timeout_s=60, every_s=0.02)
        assert isinstance(socket.errors[0], ccxt.RequestTimeout)
        assert session.reconcile_requested and session.wake_poller.is_set()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_socket_that_keeps_reading_is_left_alone() -> None:
    socket = FakeSocket()
    client = FakeClient(socket)
    session = _session(client)
    timing = Timing(ws_silence_s=2.0)
    task = asyncio.create_task(watchdog(session, timing))
    try:
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            ws_guard.touch(client, URL, time.monotonic())
            await asyncio.sleep(0.05)
        assert socket.errors == [] and not session.reconcile_requested
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.parametrize(("keepalive_ms", "expected"), [(0, 15.0), (6000, 15.0), (20_000, 30.0)])
def test_threshold_is_never_below_one_and_a_half_ping_intervals(keepalive_ms: int, expected: float) -> None:
    assert socket_threshold_s(FakeSocket(keepalive_ms), Timing(ws_silence_s=15.0)) == expected


def _assert(condition: bool) -> None:
    assert condition
