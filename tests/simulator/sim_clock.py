"""What every venue's simulator tests share: a clock that moves only when the test moves it, a
bounded way to run the scenario, a real ccxt.pro client that is always closed, and waits on the
two conditions a test needs before it makes the venue push something: the venue has read the
subscribe (``subscribed_beyond``) and the client listens for the push (``listening``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import ccxt.pro as ccxtpro

from fullon_account_service.simulator.model import SimAccount
from fullon_account_service.simulator.server import Simulator

WAIT_S = 60.0
"""Deadline of the waits below: generous, they return as soon as the condition holds."""


@dataclass
class Clock:
    ms: int

    def __call__(self) -> int:
        return self.ms

    def advance(self, ms: int) -> None:
        self.ms += ms


def step_scenario(sim: Simulator, clock: Clock, steps: int, gap_ms: int) -> None:
    """Scenario steps with time passing between them (bounded by ``steps``)."""
    for _ in range(steps):
        clock.advance(gap_ms)
        sim.engine.step()


@asynccontextmanager
async def ccxt_client(venue: str, config: dict[str, Any]) -> AsyncIterator[Any]:
    exchange = getattr(ccxtpro, venue)(config)
    try:
        yield exchange
    finally:
        await exchange.close()


async def until(check: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            while not check():
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting until {what}") from None


def subscribes(sim: Simulator, account: SimAccount, channel: str | None = None) -> int:
    """How many subscribe requests the venue has accepted from ``account``'s sockets so far, on
    ``channel`` or on every channel (a reconnect subscribes again)."""
    board = sim.world.subscriptions.of(account)
    return sum(sub.subscribes for name, sub in board.items() if channel in (None, name))


async def subscribed_beyond(
    sim: Simulator, account: SimAccount, before: int, channel: str | None = None
) -> None:
    """Until the venue has accepted more subscribes than ``before`` (``subscribes`` read before
    the watch call): from then on what the venue pushes on the channel reaches the socket. ccxt
    lists a subscription as soon as it sends it, which is not enough."""
    await until(
        lambda: subscribes(sim, account, channel) > before, f"the venue read a subscribe to {channel}"
    )


async def listening(ex: Any, *message_hashes: str) -> None:
    """Until the ccxt client has a pending ``watch_*`` call for each message hash, so a push for a
    channel it is already subscribed to resolves that call instead of arriving unawaited."""

    def waiting() -> bool:
        futures = {h for c in ex.clients.values() for h in c.futures}
        return set(message_hashes) <= futures

    await until(waiting, f"ccxt waits on {', '.join(message_hashes)}")
