"""A seeded simulator run, every venue, every kind of ledger entry: each balance change explained.

The scenario engine drives the simulator's world step by step on an injected clock (a second a
step; funding every 5 s of it). After each step every account's balances, as the service
publishes them (``SimAccount.held``: Hyperliquid's spot wallet added to its perp account), are
taken as an anchor half a step later, when nothing moves. The run's fills and ledger entries, as
the ground truth has them, explain every window to zero; the same run with one fill or entry left
out does not.
"""

from __future__ import annotations

import pytest
from explain_history import sim_entries, sim_fills

from fullon_account_service.ledger.cashflow import entry_flows, fill_flows
from fullon_account_service.ledger.entries import LedgerRecord
from fullon_account_service.ledger.explain import Anchor, Window, explain
from fullon_account_service.ledger.fills import Fill
from fullon_account_service.simulator.ledger import Ledger
from fullon_account_service.simulator.model import SimAccount
from fullon_account_service.simulator.scenario import ScenarioConfig, ScenarioEngine, build_world

SEED = 5
STEPS = 3_000
STEP_MS = 1_000


class _Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now


Run = dict[str, tuple[list[Fill], list[LedgerRecord], dict[str, list[Anchor]]]]


def _anchor(account: SimAccount, anchors: dict[str, list[Anchor]], time_ms: int) -> None:
    for currency, balance in account.held().items():
        anchors.setdefault(currency, []).append(Anchor(time_ms, balance.total))


@pytest.fixture(scope="module")
def run() -> Run:
    clock = _Clock()
    config = ScenarioConfig(accounts_per_venue=2, seed=SEED, funding_every_s=5.0, funding_rate=0.001)
    world = build_world(config, now_ms=clock)
    engine = ScenarioEngine(world, Ledger(world), config)
    anchors: dict[str, dict[str, list[Anchor]]] = {f"{a.venue}-{a.index}": {} for a in world.accounts}
    for account in world.accounts:
        _anchor(account, anchors[f"{account.venue}-{account.index}"], clock.now - STEP_MS // 2)
    for _ in range(STEPS):
        engine.step()
        for account in world.accounts:
            _anchor(account, anchors[f"{account.venue}-{account.index}"], clock.now + STEP_MS // 2)
        clock.now += STEP_MS
    return {
        f"{a.venue}-{a.index}": (sim_fills(a), sim_entries(a), anchors[f"{a.venue}-{a.index}"])
        for a in world.accounts
    }


def _windows(
    fills: list[Fill], entries: list[LedgerRecord], anchors: dict[str, list[Anchor]]
) -> list[Window]:
    return explain(anchors, fill_flows(fills) + entry_flows(entries), band_ms=0)


def test_the_run_has_every_kind_of_entry(run: Run) -> None:
    reasons = {e.reason for _, entries, _ in run.values() for e in entries}
    assert reasons >= {"funding", "deposit", "withdrawal", "transfer_in", "transfer_out", "rebate"}
    assert all(fills for fills, _, _ in run.values())


def test_every_balance_change_of_the_run_is_explained(run: Run) -> None:
    for account, (fills, entries, anchors) in run.items():
        windows = _windows(fills, entries, anchors)
        assert len(windows) >= STEPS, account
        assert [w for w in windows if not w.ok] == [], account


@pytest.mark.parametrize("missing", ["fill", "entry"])
def test_the_run_with_one_fact_missing_is_not(run: Run, missing: str) -> None:
    for account, (fills, entries, anchors) in run.items():
        if missing == "fill":
            unexplained = [w for w in _windows(fills[1:], entries, anchors) if not w.ok]
        else:
            unexplained = [w for w in _windows(fills, entries[1:], anchors) if not w.ok]
        assert unexplained, account
