"""Start accounts no faster than the event loop keeps up with them.

Starting an account only spawns its loops; their first work (the client and its markets, the
WebSocket handshake and login, the first reconciliation's REST reads and parsing) runs on the event
loop afterwards, interleaved with every account started before. Started a thousand at once, all
of that is ready together and makes turns of the loop long; a lease renewal (``LeasePool.keep``)
needs a few turns for its round trip and has ``lease_renew_s`` of margin before the leases' local
bound. Measured at 1,000 accounts with no history (bench/RESULTS.md, "h2, stop 26"): unpaced,
turns of up to 0.6 s; paced, up to 0.3 s. Bursts of fills make longer turns; this does not
bound those.

``StartPace.each`` calls ``wait`` after each start: it yields to the loop and measures how long one
turn took; while turns take longer than ``turn_budget_s`` it keeps yielding, so the next account
starts only once the ones before have been absorbed. A turn of the loop is measured as the time from
yielding (``asyncio.sleep(0)``) until resumed: every callback ready at that moment ran in between.
The wait is bounded by ``max_wait_s``: on a loop that stays busy for reasons of its own (a burst of
fills) accounts still start, one per ``max_wait_s`` at least.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

TURN_BUDGET_S = 0.1
"""A renewal needs a few turns and has ``lease_renew_s`` (5 s by default) of margin before the
local bound: turns of 0.1 s leave it an order of magnitude to spare."""
MAX_WAIT_S = 2.0

T = TypeVar("T")


class StartPace:
    def __init__(
        self,
        *,
        turn_budget_s: float = TURN_BUDGET_S,
        max_wait_s: float = MAX_WAIT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._budget = turn_budget_s
        self._max_wait = max_wait_s
        self._clock = clock

    async def turn(self) -> float:
        """How long one turn of the event loop took (seconds on ``clock``)."""
        started = self._clock()
        await asyncio.sleep(0)
        return self._clock() - started

    async def wait(self) -> None:
        """Return once a turn of the loop took at most ``turn_budget_s``, or ``max_wait_s`` after
        the call."""
        deadline = self._clock() + self._max_wait
        while await self.turn() > self._budget and self._clock() < deadline:
            pass

    async def each(self, items: Iterable[T], start: Callable[[T], Awaitable[None]]) -> None:
        """``start`` every item in turn, each once the loop absorbed the ones before."""
        for item in items:
            await start(item)
            await self.wait()
