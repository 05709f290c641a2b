"""What every venue's simulator tests share: a clock that moves only when the test moves it, a
bounded way to run the scenario, and a real ccxt.pro client that is always closed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import ccxt.pro as ccxtpro

from fullon_account_service.simulator.server import Simulator


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
