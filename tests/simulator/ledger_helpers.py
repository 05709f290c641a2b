"""What the per-venue ledger tests share: a one-account simulator whose scenario has run long enough
(with funding every few seconds of scenario time) to hold every kind of ledger entry the venue has."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sim_clock import Clock, step_scenario

from fullon_account_service.simulator.model import SimAccount, SimLedgerEntry
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

START_MS = 1_700_000_000_000
FUNDING_EVERY_S = 4.0


@asynccontextmanager
async def funded_sim(
    venue: str, steps: int = 1500, seed: int = 3
) -> AsyncIterator[tuple[Simulator, SimAccount, Clock]]:
    clock = Clock(START_MS)
    config = ScenarioConfig(venues=(venue,), accounts_per_venue=1, seed=seed, funding_every_s=FUNDING_EVERY_S)
    async with Simulator(config, now_ms=clock) as sim:
        step_scenario(sim, clock, steps, 41)
        yield sim, sim.world.accounts[0], clock


def entries_of(account: SimAccount, *reasons: str) -> dict[str, SimLedgerEntry]:
    """The account's entries of these reasons (all when none is named), by id."""
    return {e.entry_id: e for e in account.ledger if not reasons or e.reason in reasons}
