"""The e2e bench keeps watching the bus while a ``/step`` call is under way.

At saturation each call took longer than the driver's tick, and the driver, which polled only
between calls, stopped polling: whatever was stored meanwhile was timed when the drive ended, and
both sinks showed the same multi-second maximum. Here the simulator's ``/step`` answers only
once the watcher has polled during the call (with a deadline), so a driver that does not poll
meanwhile fails.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp
from aiohttp import web

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from e2e import drive  # noqa: E402

POLLS_DURING_A_STEP = 3
STEP_DEADLINE_S = 30.0


class CountingWatcher:
    """Stands in for ``e2e_watch.Watcher``: counts polls and lets a waiter see them."""

    def __init__(self) -> None:
        self.polls = 0
        self.polled = asyncio.Condition()

    async def poll(self) -> None:
        async with self.polled:
            self.polls += 1
            self.polled.notify_all()


async def test_the_watcher_polls_while_a_step_is_under_way() -> None:
    watcher = CountingWatcher()
    calls: list[int] = []

    async def step(request: web.Request) -> web.Response:
        calls.append(int(request.query["n"]))
        async with watcher.polled:
            wanted = watcher.polls + POLLS_DURING_A_STEP
            async with asyncio.timeout(STEP_DEADLINE_S):
                await watcher.polled.wait_for(lambda: watcher.polls >= wanted)
        return web.json_response({"steps": sum(calls)})

    app = web.Application()
    app.router.add_post("/step", step)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as http:
            done = await drive(http, f"http://127.0.0.1:{port}", watcher, rate=100.0, seconds=0.3)  # type: ignore[arg-type]
    finally:
        await runner.cleanup()
    assert calls and done.steps == sum(calls)
    assert watcher.polls >= POLLS_DURING_A_STEP * len(calls)
