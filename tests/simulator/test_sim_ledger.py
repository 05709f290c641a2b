"""Ledger accounting: locks, fees in quote and base, perp netting with partial closes and flips."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fullon_account_service.simulator.accounting import fee_rate
from fullon_account_service.simulator.ledger import Ledger
from fullon_account_service.simulator.model import (
    BalancesChanged,
    Change,
    FillAdded,
    LedgerAdded,
    OrderChanged,
    PositionChanged,
    SimAccount,
    SimBalance,
)
from fullon_account_service.simulator.scenario import ScenarioConfig, ScenarioEngine, build_world


def _setup(venue: str, balances: dict[str, float]) -> tuple[Ledger, SimAccount, list[Change]]:
    world = build_world(ScenarioConfig(venues=(venue,), accounts_per_venue=1, seed=1), now_ms=lambda: 1_000)
    account = world.accounts[0]
    account.balances = {c: SimBalance(v) for c, v in balances.items()}
    changes: list[Change] = []
    account.listeners.append(lambda _, change: changes.append(change))
    return Ledger(world), account, changes


def test_spot_limit_buy_locks_quote_and_fills_with_fee_in_quote() -> None:
    ledger, acc, changes = _setup("kraken", {"USD": 10_000.0})
    order = ledger.place_order(acc, "BTC/USD", "buy", "limit", 0.1, 50_000.0)
    assert order.status == "open"
    assert acc.balances["USD"].used == pytest.approx(5_000.0)
    assert [type(c) for c in changes] == [OrderChanged, BalancesChanged]

    changes.clear()
    fill = ledger.fill(acc, order, 0.04, 50_000.0, taker=False)
    fee = 0.04 * 50_000.0 * fee_rate("kraken", "spot", taker=False)
    assert fill.fee == pytest.approx(fee) and fill.fee_currency == "USD"
    assert [type(c) for c in changes] == [FillAdded, OrderChanged, BalancesChanged]
    assert acc.balances["BTC"].total == pytest.approx(0.04)
    assert acc.balances["USD"].total == pytest.approx(10_000.0 - 2_000.0 - fee)
    assert acc.balances["USD"].used == pytest.approx(3_000.0)
    assert order.status == "open" and order.filled == pytest.approx(0.04)

    ledger.cancel(acc, order)
    assert order.status == "canceled"
    assert acc.balances["USD"].used == 0.0
    with pytest.raises(ValueError):
        ledger.fill(acc, order, 0.01, 50_000.0, taker=False)


def test_spot_sell_fee_in_base_sticks_to_the_order() -> None:
    ledger, acc, _ = _setup("kraken", {"USD": 0.0, "BTC": 1.0})
    order = ledger.place_order(acc, "BTC/USD", "sell", "limit", 0.5, 60_000.0)
    assert acc.balances["BTC"].used == pytest.approx(0.5)
    rate = fee_rate("kraken", "spot", taker=True)
    ledger.fill(acc, order, 0.2, 60_000.0, taker=True, fee_in_base=True)
    second = ledger.fill(acc, order, 0.3, 60_000.0, taker=True, fee_in_base=False)
    assert second.fee_currency == "BTC"  # the first fill chose base for the whole order
    assert order.status == "closed" and order.remaining == 0.0
    assert order.fee == pytest.approx(0.5 * rate)
    assert acc.balances["BTC"].total == pytest.approx(1.0 - 0.5 - 0.5 * rate)
    assert acc.balances["BTC"].used == 0.0
    assert acc.balances["USD"].total == pytest.approx(30_000.0)


def test_spot_buy_fee_in_base_reduces_received_amount() -> None:
    ledger, acc, _ = _setup("bybit", {"USDT": 1_000.0})
    order = ledger.place_order(acc, "ETH/USDT", "buy", "market", 0.1)
    fill = ledger.fill(acc, order, 0.1, 3_000.0, taker=True, fee_in_base=True)
    assert fill.fee_currency == "ETH"
    assert acc.balances["ETH"].total == pytest.approx(0.1 - fill.fee)
    assert acc.balances["USDT"].total == pytest.approx(700.0)


def test_insufficient_funds_are_rejected_without_locking() -> None:
    ledger, acc, changes = _setup("kraken", {"USD": 100.0})
    order = ledger.place_order(acc, "BTC/USD", "buy", "limit", 1.0, 60_000.0)
    assert order.status == "rejected"
    assert acc.balances["USD"].used == 0.0
    assert [type(c) for c in changes] == [OrderChanged]
    assert ledger.open_orders(acc) == []


def test_perp_weighted_entry_partial_close_and_flip() -> None:
    ledger, acc, changes = _setup("hyperliquid", {"USDC": 100_000.0})
    sym = "BTC/USDC:USDC"
    taker = fee_rate("hyperliquid", "swap", taker=True)

    buy = ledger.place_order(acc, sym, "buy", "market", 1.0, leverage=10)
    ledger.fill(acc, buy, 0.5, 60_000.0, taker=True)
    ledger.fill(acc, buy, 0.5, 62_000.0, taker=True)
    pos = acc.positions[sym]
    assert pos.contracts == pytest.approx(1.0) and pos.entry_price == pytest.approx(61_000.0)
    assert acc.balances["USDC"].used == pytest.approx(6_100.0)
    assert isinstance(changes[-2], PositionChanged)

    close = ledger.place_order(acc, sym, "sell", "market", 0.4, reduce_only=True)
    ledger.fill(acc, close, 0.4, 63_000.0, taker=True)
    assert acc.positions[sym].contracts == pytest.approx(0.6)
    assert acc.positions[sym].entry_price == pytest.approx(61_000.0)

    flip = ledger.place_order(acc, sym, "sell", "market", 1.6)
    ledger.fill(acc, flip, 1.6, 59_000.0, taker=True)
    pos = acc.positions[sym]
    assert pos.contracts == pytest.approx(-1.0) and pos.side == "short"
    assert pos.entry_price == pytest.approx(59_000.0)

    fees = taker * (30_000 + 31_000 + 0.4 * 63_000 + 1.6 * 59_000)
    realised = 0.4 * 2_000.0 + 0.6 * -2_000.0
    assert acc.balances["USDC"].total == pytest.approx(100_000.0 + realised - fees)
    assert acc.balances["USDC"].used == pytest.approx(59_000.0 / pos.leverage)

    back = ledger.place_order(acc, sym, "buy", "market", 1.0, reduce_only=True)
    ledger.fill(acc, back, 1.0, 58_000.0, taker=True)
    assert sym not in acc.positions
    assert acc.balances["USDC"].used == 0.0
    assert isinstance(changes[-2], PositionChanged) and changes[-2].symbol == sym


def test_mark_moves_unrealised_pnl_and_notifies() -> None:
    ledger, acc, changes = _setup("bybit", {"USDT": 10_000.0})
    order = ledger.place_order(acc, "ETH/USDT:USDT", "sell", "limit", 1.0, 3_000.0, leverage=5)
    assert acc.balances["USDT"].used == pytest.approx(600.0)
    ledger.fill(acc, order, 1.0, 3_000.0, taker=False)
    changes.clear()
    ledger.set_price("bybit", "ETH/USDT:USDT", 2_900.0)
    assert acc.positions["ETH/USDT:USDT"].unrealized_pnl == pytest.approx(100.0)
    assert [type(c) for c in changes] == [PositionChanged, BalancesChanged]


def test_deposit_withdraw_and_overdraw() -> None:
    ledger, acc, changes = _setup("bybit", {"USDT": 100.0})
    ledger.deposit(acc, "USDT", 50.0)
    ledger.withdraw(acc, "USDT", 120.0)
    assert acc.balances["USDT"].total == pytest.approx(30.0 - 0.12)  # the 0.1 % withdrawal fee on top
    assert [type(c) for c in changes] == [LedgerAdded, BalancesChanged] * 2
    assert [(e.amount, e.fee, e.reason, e.raw_type) for e in acc.ledger] == [
        (50.0, 0.0, "deposit", "DEPOSIT"),
        (-120.0, 0.12, "withdrawal", "WITHDRAW"),
    ]
    assert acc.ledger[-1].balance_after == pytest.approx(29.88)
    with pytest.raises(ValueError):
        ledger.withdraw(acc, "USDT", 29.86)
    with pytest.raises(ValueError, match="no liquidation"):
        ledger.book(acc, "USDT", 1.0, "liquidation")
    with pytest.raises(ValueError, match="must move"):
        ledger.book(acc, "USDT", 0.000000001, "adjustment")  # rounds to nothing in Bybit's 8 digits


def test_timestamps_strictly_increase_and_ids_have_venue_shapes() -> None:
    for venue, symbol, pattern in [
        ("kraken", "BTC/USD", r"^O[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{6}$"),
        ("bybit", "BTC/USDT:USDT", r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"),
        ("hyperliquid", "BTC/USDC:USDC", r"^\d+$"),
    ]:
        ledger, acc, _ = _setup(venue, {"USD": 1e6, "USDT": 1e6, "USDC": 1e6})
        orders = [ledger.place_order(acc, symbol, "buy", "limit", 0.01, 50_000.0) for _ in range(3)]
        stamps = [o.created_ms for o in orders]
        assert stamps == sorted(set(stamps))
        assert len({o.order_id for o in orders}) == 3
        assert all(re.match(pattern, o.order_id) for o in orders)
        fill = ledger.fill(acc, orders[0], 0.01, 50_000.0, taker=False)
        assert fill.ts_ms > stamps[-1]
        if venue == "kraken":
            assert re.match(r"^T[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{6}$", fill.trade_id)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 1_000_000))
def test_scenario_keeps_books_consistent(seed: int) -> None:
    clock = itertools.count(1_700_000_000_000, 3)
    config = ScenarioConfig(accounts_per_venue=2, seed=seed)
    world = build_world(config, now_ms=lambda: next(clock))
    ledger = Ledger(world)
    ScenarioEngine(world, ledger, config).run_steps(400)
    for acc in world.accounts:
        for cur, bal in acc.balances.items():
            assert bal.free >= -1e-6, (acc.venue, cur, bal)
            assert bal.used >= -1e-9
        open_ids = {o.order_id for o in ledger.open_orders(acc)}
        assert open_ids == {o.order_id for o in acc.orders.values() if o.status == "open"}
        by_order: dict[str, float] = {}
        net: dict[str, float] = {}
        for f in acc.fills:
            by_order[f.order_id] = by_order.get(f.order_id, 0.0) + f.amount
            if ledger.market(acc, f.symbol).kind == "swap":
                net[f.symbol] = net.get(f.symbol, 0.0) + (f.amount if f.side == "buy" else -f.amount)
        for order in acc.orders.values():
            assert order.filled == pytest.approx(by_order.get(order.order_id, 0.0), abs=1e-9)
            assert order.filled <= order.amount + 1e-9
            if order.status == "closed":
                assert order.remaining == 0.0
            if order.status == "rejected":
                assert order.filled == 0.0
        for symbol, contracts in net.items():
            held = acc.positions[symbol].contracts if symbol in acc.positions else 0.0
            assert held == pytest.approx(contracts, abs=1e-6)
        stamps = [f.ts_ms for f in acc.fills]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
