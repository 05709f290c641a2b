"""Scenario: deterministic replay, the promised action mix, credentials ccxt can sign with, pacing."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections.abc import Callable
from pathlib import Path

import ccxt
import pytest

from fullon_account_service.simulator.history import TruthRecorder
from fullon_account_service.simulator.ledger import Ledger
from fullon_account_service.simulator.model import World
from fullon_account_service.simulator.scenario import ScenarioConfig, ScenarioEngine, build_world
from fullon_account_service.simulator.truth import ground_truth, write_truth


def _clock() -> Callable[[], int]:
    counter = itertools.count(1_700_000_000_000, 5)
    return lambda: next(counter)


def _run(seed: int, steps: int, accounts: int = 2) -> tuple[World, ScenarioEngine]:
    config = ScenarioConfig(accounts_per_venue=accounts, seed=seed)
    world = build_world(config, now_ms=_clock())
    engine = ScenarioEngine(world, Ledger(world), config)
    engine.run_steps(steps)
    return world, engine


def test_same_seed_same_truth_and_different_seed_differs() -> None:
    first = json.dumps(ground_truth(_run(7, 1500)[0]), sort_keys=True)
    again = json.dumps(ground_truth(_run(7, 1500)[0]), sort_keys=True)
    other = json.dumps(ground_truth(_run(8, 1500)[0]), sort_keys=True)
    assert first == again
    assert first != other


def test_truth_has_no_secrets_and_writes_json(tmp_path: Path) -> None:
    world, _ = _run(3, 300)
    path = tmp_path / "truth.json"
    write_truth(world, path)
    text = path.read_text()
    assert json.loads(text)["seed"] == 3
    for acc in world.accounts:
        assert acc.secret not in text
        if acc.venue != "hyperliquid":  # the wallet address is public and doubles as api_key
            assert acc.api_key not in text


def test_action_mix_covers_the_promised_cases() -> None:
    world, engine = _run(11, 4000)
    assert engine.steps == 4000
    orders = [o for a in world.accounts for o in a.orders.values()]
    statuses = {o.status for o in orders}
    assert statuses == {"open", "closed", "canceled", "rejected"}
    assert {o.order_type for o in orders} == {"limit", "market"}
    fills_per_order: dict[str, int] = {}
    for acc in world.accounts:
        for f in acc.fills:
            fills_per_order[f.order_id] = fills_per_order.get(f.order_id, 0) + 1
    assert max(fills_per_order.values()) > 1  # partial fills
    kraken_fills = [f for a in world.accounts_of("kraken") for f in a.fills]
    assert {f.fee_currency for f in kraken_fills} >= {"USD", "BTC"}  # fees in quote and in base
    assert any(o.status == "canceled" and o.filled > 0 for o in orders)  # partially filled then canceled
    perps = [a for a in world.accounts if a.venue != "kraken"]
    sides = {p.side for a in perps for p in a.positions.values()}
    assert sides == {"long", "short"}
    assert any(o.reduce_only for o in orders)
    kraken = world.accounts_of("kraken")[0]
    assert len(kraken.balances) > 4  # bought assets it did not start with


def test_credentials_are_deterministic_and_valid_for_ccxt() -> None:
    a = build_world(ScenarioConfig(seed=5), now_ms=_clock())
    b = build_world(ScenarioConfig(seed=5), now_ms=_clock())
    c = build_world(ScenarioConfig(seed=6), now_ms=_clock())
    assert [x.secret for x in a.accounts] == [x.secret for x in b.accounts]
    assert {x.secret for x in a.accounts}.isdisjoint({x.secret for x in c.accounts})
    assert len({x.api_key for x in a.accounts}) == len(a.accounts)
    for acc in a.accounts_of("kraken"):
        assert len(base64.b64decode(acc.secret, validate=True)) == 64
    for acc in a.accounts_of("hyperliquid"):
        assert acc.secret.startswith("0x") and len(acc.secret) == 66
        assert acc.wallet_address == ccxt.Exchange.eth_get_address_from_private_key(acc.secret)
        assert acc.api_key == acc.wallet_address


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="unknown venues"):
        ScenarioConfig(venues=("binance",))
    with pytest.raises(ValueError):
        ScenarioConfig(rate_per_s=0)


async def test_run_paces_at_the_rate_and_stops() -> None:
    config = ScenarioConfig(accounts_per_venue=1, seed=1, rate_per_s=2_000)
    world = build_world(config)
    engine = ScenarioEngine(world, Ledger(world), config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(60):
        started = loop.time()
        task = asyncio.create_task(engine.run(stop))
        while engine.steps < 200:
            await asyncio.sleep(0.01)
        stop.set()
        await task
        elapsed = loop.time() - started
    # never ahead of the rate, however long a loaded machine took to get here
    assert 200 <= engine.steps <= 2_000 * elapsed + 1


async def test_slow_rate_takes_no_step_early() -> None:
    config = ScenarioConfig(accounts_per_venue=1, seed=1, rate_per_s=1 / 60)
    world = build_world(config)
    engine = ScenarioEngine(world, Ledger(world), config)
    stop = asyncio.Event()
    async with asyncio.timeout(60):
        task = asyncio.create_task(engine.run(stop))
        await asyncio.sleep(0.1)
        stop.set()
        await task
    assert engine.steps == 0


def test_history_ends_at_the_final_state() -> None:
    config = ScenarioConfig(accounts_per_venue=1, seed=9)
    world = build_world(config, now_ms=_clock())
    ledger = Ledger(world)
    recorder = TruthRecorder(ledger)
    recorder.attach(world)
    ScenarioEngine(world, ledger, config).run_steps(800)
    truth = ground_truth(world, recorder)
    for acc, acc_truth in zip(world.accounts, truth["accounts"], strict=True):
        last_balance = {row["currency"]: row for row in acc_truth["balance_history"]}
        for currency, row in last_balance.items():
            held = acc.held()[currency]
            assert (row["total"], row["used"]) == (held.total, held.used)
        stamps = [row["ts_ms"] for row in acc_truth["balance_history"]]
        assert stamps == sorted(stamps)
        last_position = {row["symbol"]: row for row in acc_truth["position_history"]}
        for symbol, row in last_position.items():
            held = acc.positions.get(symbol)
            assert row["contracts"] == (held.contracts if held else 0.0)
        if acc.venue != "kraken":
            assert last_position
