"""A socket with a backlog of frames in aiohttp's buffer lets other tasks run between batches of
them (issue 18: ccxt read the whole backlog in one turn of the event loop, so a producer far
behind starved its own lease renewals), and still hands every frame over once, in order, with
aiohttp's byte count kept whole."""

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
from ccxt.async_support.base.ws.client import MSG_SIZE_OVERHEAD

from fullon_account_service.producers import ws_guard

URL = "wss://venue.test/private"
BACKLOG = 20 * ws_guard.DRAIN_BATCH + 5
FRAME_SIZE = 10
DEADLINE_S = 60.0


def _frame(n: int) -> tuple[WSMessage, int]:
    return WSMessage(WSMsgType.TEXT, json.dumps({"n": n}), None), FRAME_SIZE


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
    buffer: deque[tuple[WSMessage, int]] = deque(_frame(n) for n in range(BACKLOG))
    never: asyncio.Future[WSMessage] = asyncio.get_running_loop().create_future()
    socket.connection = SimpleNamespace(
        closed=False,
        receive=lambda: never,
        _conn=SimpleNamespace(protocol=SimpleNamespace(_payload=SimpleNamespace(_buffer=buffer))),
    )
    read: list[int] = []
    socket.on_message_callback = lambda _client, message: read.append(message["n"])
    seen_by_other_task: list[int] = []

    async def other_task() -> None:
        while len(read) < BACKLOG - 1:
            seen_by_other_task.append(len(read))
            await asyncio.sleep(0)

    other = asyncio.ensure_future(other_task())
    socket.receive_loop()
    async with asyncio.timeout(DEADLINE_S):
        await other

    assert read == list(range(BACKLOG - 1)), "every frame but aiohttp's head one, once, in order"
    distinct = sorted(set(seen_by_other_task))
    assert len(distinct) >= BACKLOG // ws_guard.DRAIN_BATCH - 1, "the other task ran between batches"
    steps = [b - a for a, b in itertools.pairwise([0, *distinct])]
    assert max(steps) <= ws_guard.DRAIN_BATCH, "no turn of the loop reads more than one batch"
    head, size = buffer[0]
    assert json.loads(head.data) == {"n": BACKLOG - 1}
    assert size == FRAME_SIZE + (BACKLOG - 1) * (FRAME_SIZE + MSG_SIZE_OVERHEAD), "byte count kept"
    never.cancel()
