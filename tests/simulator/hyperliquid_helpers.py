"""Shared pieces of the Hyperliquid simulator tests: a manual clock, the real ``Simulator``
(ledger, scenario, venue server on 127.0.0.1) and a real ccxt.pro client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sim_clock import Clock, ccxt_client, step_scenario

from fullon_account_service.simulator.ledger import Ledger
from fullon_account_service.simulator.model import SimAccount, World
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

START_MS = 1_700_000_000_000


@dataclass
class HlSim:
    sim: Simulator
    clock: Clock

    @property
    def world(self) -> World:
        return self.sim.world

    @property
    def ledger(self) -> Ledger:
        return self.sim.ledger

    @property
    def accounts(self) -> list[SimAccount]:
        return self.world.accounts_of("hyperliquid")

    @property
    def base_url(self) -> str:
        return self.sim.base_url("hyperliquid")

    def config(self, account: SimAccount) -> dict[str, Any]:
        return self.sim.client_config(account)

    def run(self, steps: int, gap_ms: int = 37) -> None:
        step_scenario(self.sim, self.clock, steps, gap_ms)


@asynccontextmanager
async def running(
    seed: int = 7, accounts: int = 2, steps: int = 0, rate_per_s: float = 20.0
) -> AsyncIterator[HlSim]:
    """A started simulator with only the Hyperliquid venue, ``steps`` scenario steps already run."""
    clock = Clock(START_MS)
    config = ScenarioConfig(
        venues=("hyperliquid",), accounts_per_venue=accounts, seed=seed, rate_per_s=rate_per_s
    )
    async with Simulator(config, now_ms=clock) as sim:
        assert "hyperliquid" in sim.venues, sim.unavailable
        hl = HlSim(sim, clock)
        hl.run(steps)
        yield hl


def client(config: dict[str, Any]) -> AbstractAsyncContextManager[Any]:
    """ccxt.pro client; its own throttle (0.5 s per /info query on this venue) is off to keep tests fast."""
    return ccxt_client("hyperliquid", config | {"enableRateLimit": False})
