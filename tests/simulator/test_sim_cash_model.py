"""The cash model behind the ledger entries: every balance change of a seeded run is explained by
the fills' cash flows, their fees and the ledger entries, and funding follows the schedule."""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from typing import get_args

import pytest

from fullon_account_service.simulator.ledger import Ledger
from fullon_account_service.simulator.model import LedgerReason, SimAccount, SimFill, World
from fullon_account_service.simulator.scenario import ScenarioConfig, ScenarioEngine, build_world
from fullon_account_service.simulator.truth import ground_truth

START_MS = 1_700_000_000_000
FUNDING_EVERY_S = 2.0


def _run(seed: int, steps: int) -> tuple[World, dict[tuple[str, int], dict[str, float]]]:
    clock = itertools.count(START_MS, 7)
    config = ScenarioConfig(accounts_per_venue=2, seed=seed, funding_every_s=FUNDING_EVERY_S)
    world = build_world(config, now_ms=lambda: next(clock))
    start = {(a.venue, a.index): {c: b.total for c, b in a.balances.items()} for a in world.accounts}
    ScenarioEngine(world, Ledger(world), config).run_steps(steps)
    return world, start


def _fill_flows(account: SimAccount, world: World) -> dict[str, float]:
    """Cash each fill moved, recomputed from the fills alone: spot legs and fees; for perps the
    realised pnl of an average-entry one-way position, minus the fee."""
    markets = {m.symbol: m for m in world.markets[account.venue]}
    flows: dict[str, float] = defaultdict(float)
    size: dict[str, float] = defaultdict(float)
    entry: dict[str, float] = {}
    for fill in account.fills:
        market = markets[fill.symbol]
        sign = 1.0 if fill.side == "buy" else -1.0
        flows[fill.fee_currency] -= fill.fee
        if market.kind == "spot":
            flows[market.base] += sign * fill.amount
            flows[market.quote] -= sign * fill.cost
            continue
        flows[str(market.settle)] += _realised(fill, sign, size, entry)
    return flows


def _realised(fill: SimFill, sign: float, size: dict[str, float], entry: dict[str, float]) -> float:
    held = size[fill.symbol]
    if held == 0 or held * sign > 0:
        total = abs(held) + fill.amount
        entry[fill.symbol] = (abs(held) * entry.get(fill.symbol, 0.0) + fill.amount * fill.price) / total
        size[fill.symbol] = held + sign * fill.amount
        return 0.0
    closed = min(fill.amount, abs(held))
    pnl = (fill.price - entry[fill.symbol]) * closed * (1.0 if held > 0 else -1.0)
    size[fill.symbol] = round(held + sign * fill.amount, 10)
    if fill.amount > closed:
        entry[fill.symbol] = fill.price
    return pnl


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_balance_change_is_fills_fees_and_ledger_entries(seed: int) -> None:
    world, start = _run(seed, 3000)
    reasons = set()
    for account in world.accounts:
        flows = _fill_flows(account, world)
        for entry in account.ledger:
            flows[entry.currency] += entry.amount - entry.fee
            reasons.add(entry.reason)
        before = start[(account.venue, account.index)]
        for currency in set(flows) | set(account.balances):
            change = account.balances.get(currency).total if currency in account.balances else 0.0
            change -= before.get(currency, 0.0)
            assert change == pytest.approx(flows[currency], abs=1e-6), (account.venue, currency)
    assert reasons == set(get_args(LedgerReason)) - {"other"}


def test_an_unexplained_change_is_caught() -> None:
    """The check above can fail: a balance moved behind the ledger's back shows."""
    world, start = _run(1, 500)
    account = world.accounts_of("bybit")[0]
    account.balances["USDT"].total += 0.01
    flows = _fill_flows(account, world)
    for entry in account.ledger:
        flows[entry.currency] += entry.amount - entry.fee
    change = account.balances["USDT"].total - start[("bybit", 0)]["USDT"]
    assert change != pytest.approx(flows["USDT"], abs=1e-6)


def test_funding_is_paid_on_every_open_position_at_each_interval() -> None:
    world, _ = _run(4, 3000)
    funded = [(a, e) for a in world.accounts for e in a.ledger if e.reason == "funding"]
    assert {a.venue for a, _ in funded} == {"bybit", "hyperliquid"}  # Kraken: spot only, no perps
    intervals = {e.ts_ms // int(FUNDING_EVERY_S * 1000) for _, e in funded}
    assert len(intervals) > 5
    for account, entry in funded:
        terms = entry.funding
        assert terms is not None and entry.symbol is not None
        signed_size = terms.size if terms.side == "buy" else -terms.size
        assert entry.amount == pytest.approx(-signed_size * terms.mark_price * terms.rate, abs=1e-6)
        assert entry.currency == world.market(account.venue, entry.symbol).settle
        assert entry.fee == 0.0
    rates = {e.funding.rate for _, e in funded if e.funding}
    assert any(r > 0 for r in rates) and any(r < 0 for r in rates)


def test_truth_ledger_is_in_time_order_with_unique_ids() -> None:
    world, _ = _run(5, 2000)
    for account in ground_truth(world)["accounts"]:
        entries = account["ledger"]
        assert [e["ts_ms"] for e in entries] == sorted(e["ts_ms"] for e in entries)
        assert len({e["id"] for e in entries}) == len(entries)
        for e in entries:
            assert set(e) == {
                "id",
                "currency",
                "amount",
                "reason",
                "symbol",
                "fee",
                "fee_currency",
                "raw_type",
                "ts_ms",
            }
            assert (e["symbol"] is not None) == (e["reason"] in ("funding", "liquidation"))
            assert e["fee_currency"] == (e["currency"] if e["fee"] else None)


def test_ledger_ids_have_each_venues_shape() -> None:
    world, _ = _run(6, 1500)
    shapes = {
        "kraken": r"^L[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{6}$",
        "bybit": r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
        "hyperliquid": r"^0x[0-9a-f]{64}$",
    }
    for account in world.accounts:
        assert account.ledger
        for entry in account.ledger:
            if account.venue == "hyperliquid" and entry.reason == "funding":
                assert entry.entry_id == f"{str(entry.symbol).split('/')[0]}:{entry.ts_ms}"
            else:
                assert re.match(shapes[account.venue], entry.entry_id), entry.entry_id
