"""Shared pieces of the Bybit simulator tests: a manual world clock, a seeded ``Simulator`` serving
only Bybit on 127.0.0.1, a real ``ccxt.pro.bybit`` client pointed at it, and what ccxt is expected
to show for a world object (the venue's own conventions applied to the ground truth)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from sim_clock import Clock, ccxt_client, step_scenario

from fullon_account_service.simulator.model import Market, SimAccount, SimFill, SimOrder, SimPosition
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator
from fullon_account_service.simulator.venues.bybit.render import has_fee_detail

START_MS = 1_700_000_000_000
APPROX = {"rel": 1e-9, "abs": 1e-9}


def approx(value: float) -> Any:
    return pytest.approx(value, **APPROX)


@asynccontextmanager
async def bybit_sim(seed: int = 7, accounts: int = 2) -> AsyncIterator[tuple[Simulator, Clock]]:
    clock = Clock(START_MS)
    config = ScenarioConfig(venues=("bybit",), accounts_per_venue=accounts, seed=seed, rate_per_s=20)
    async with Simulator(config, now_ms=clock) as sim:
        yield sim, clock


def run(sim: Simulator, clock: Clock, steps: int, gap_ms: int = 41) -> None:
    step_scenario(sim, clock, steps, gap_ms)


def client(config: dict[str, Any]) -> AbstractAsyncContextManager[Any]:
    return ccxt_client("bybit", config)


async def eventually(check: Callable[[], bool], timeout_s: float = 60.0) -> None:
    """Wait (bounded) until ``check()`` holds; the caller asserts the details afterwards."""
    async with asyncio.timeout(timeout_s):
        while not check():
            await asyncio.sleep(0.02)


async def collect(
    call: Callable[[], Awaitable[Any]], sink: Callable[[Any], None], rounds: int = 10_000
) -> None:
    """Call a ``watch_*`` repeatedly and hand each result to ``sink`` (bounded in count; the test
    cancels it once it has seen what it waits for)."""
    for _ in range(rounds):
        sink(await call())


def markets_of(sim: Simulator) -> dict[str, Market]:
    return {m.symbol: m for m in sim.world.markets["bybit"]}


def expected_status(order: SimOrder, market: Market) -> str:
    """ccxt's status: a spot order cancelled after a partial fill ends PartiallyFilledCanceled,
    which ccxt maps to ``closed``; everything else maps one to one."""
    if order.status == "canceled" and market.kind == "spot" and order.filled > 0:
        return "closed"
    return order.status


def assert_order(parsed: dict[str, Any], order: SimOrder, market: Market) -> None:
    assert parsed["id"] == order.order_id
    assert parsed["symbol"] == order.symbol
    assert parsed["side"] == order.side
    assert parsed["type"] == order.order_type
    assert parsed["status"] == expected_status(order, market)
    assert parsed["amount"] == approx(order.amount)
    assert parsed["filled"] == approx(order.filled)
    assert parsed["cost"] == approx(order.cost)
    assert parsed["timestamp"] == order.created_ms
    assert parsed["lastUpdateTimestamp"] == order.updated_ms
    assert parsed["clientOrderId"] == order.client_order_id
    assert parsed["reduceOnly"] == order.reduce_only
    if order.status == "open":
        assert parsed["remaining"] == approx(order.remaining)
    if order.price is not None:
        assert parsed["price"] == approx(order.price)
    if order.average is not None:
        assert parsed["average"] == approx(order.average)
    if order.fee_currency and has_fee_detail(order, market):
        assert parsed["fee"] == {"cost": approx(order.fee), "currency": order.fee_currency}
    elif order.fee_currency:
        # an older spot row: cumExecFee only, which ccxt does not read (the normaliser does)
        assert parsed["fee"] is None and float(parsed["info"]["cumExecFee"]) == approx(order.fee)


def assert_fill(parsed: dict[str, Any], fill: SimFill) -> None:
    assert parsed["id"] == fill.trade_id
    assert parsed["order"] == fill.order_id
    assert parsed["symbol"] == fill.symbol
    assert parsed["side"] == fill.side
    assert parsed["price"] == approx(fill.price)
    assert parsed["amount"] == approx(fill.amount)
    assert parsed["cost"] == approx(fill.cost)
    assert parsed["timestamp"] == fill.ts_ms
    assert parsed["takerOrMaker"] == ("taker" if fill.taker else "maker")
    assert parsed["fee"]["cost"] == approx(fill.fee)
    assert parsed["fee"]["currency"] == fill.fee_currency


def assert_position(parsed: dict[str, Any], pos: SimPosition) -> None:
    assert parsed["symbol"] == pos.symbol
    assert parsed["side"] == pos.side
    assert parsed["contracts"] == approx(abs(pos.contracts))
    assert parsed["entryPrice"] == approx(pos.entry_price)
    assert parsed["markPrice"] == approx(pos.mark_price)
    assert parsed["leverage"] == approx(pos.leverage)
    assert parsed["unrealizedPnl"] == approx(pos.unrealized_pnl)
    assert parsed["initialMargin"] == approx(pos.margin)
    if pos.leverage > 3:
        assert parsed["liquidationPrice"] == approx(pos.liquidation_price)
    else:
        assert parsed["liquidationPrice"] is None  # the venue sends liqPrice ""
    assert parsed["lastUpdateTimestamp"] == pos.updated_ms


def spot_locked(account: SimAccount, markets: dict[str, Market]) -> dict[str, float]:
    """What open spot limit orders lock per coin (the venue's ``locked``)."""
    locked: dict[str, float] = {}
    for order in account.orders.values():
        market = markets[order.symbol]
        if market.kind != "spot" or order.status != "open" or order.price is None:
            continue
        coin, amount = (market.quote, order.price * order.remaining)
        if order.side == "sell":
            coin, amount = market.base, order.remaining
        locked[coin] = locked.get(coin, 0.0) + amount
    return locked


def upnl_by_coin(account: SimAccount, markets: dict[str, Market]) -> dict[str, float]:
    out: dict[str, float] = {}
    for symbol, pos in account.positions.items():
        coin = str(markets[symbol].settle)
        out[coin] = out.get(coin, 0.0) + pos.unrealized_pnl
    return out
