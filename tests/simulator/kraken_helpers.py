"""Shared pieces of the Kraken simulator tests: a manual clock, the running Simulator, a real
ccxt.pro client pointed at it, bounded watch loops and the ground-truth comparisons."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from sim_clock import Clock, ccxt_client, step_scenario

from fullon_account_service.simulator.model import Market, SimAccount, SimFill, SimOrder
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

START_MS = 1_733_800_000_000
APPROX = {"rel": 1e-9, "abs": 1e-12}
STATUS = {"open": "open", "closed": "closed", "canceled": "canceled", "rejected": "canceled"}


def approx(value: float) -> Any:
    return pytest.approx(value, **APPROX)


@asynccontextmanager
async def kraken_sim(seed: int = 11, accounts: int = 2) -> AsyncIterator[tuple[Simulator, Clock]]:
    clock = Clock(START_MS)
    config = ScenarioConfig(venues=("kraken",), accounts_per_venue=accounts, seed=seed, rate_per_s=20)
    async with Simulator(config, venues=("kraken",), now_ms=clock) as sim:
        assert not sim.unavailable, sim.unavailable
        yield sim, clock


def run_steps(sim: Simulator, clock: Clock, steps: int, gap_ms: int = 1500) -> None:
    step_scenario(sim, clock, steps, gap_ms)


def client(config: dict[str, Any], **extra: Any) -> AbstractAsyncContextManager[Any]:
    """A real ccxt.pro Kraken; its own throttle is off so the tests stay fast."""
    return ccxt_client("kraken", {**config, "enableRateLimit": False, **extra})


async def watch_until(
    watch: Callable[[], Awaitable[Any]],
    done: Callable[[Any], bool],
    *,
    tries: int = 30,
    timeout_s: float = 60,
) -> Any:
    """Call ``watch`` until ``done(result)``; bounded in calls and time."""
    async with asyncio.timeout(timeout_s):
        for _ in range(tries):
            result = await watch()
            if done(result):
                return result
    raise AssertionError(f"condition not met after {tries} updates")


def fee_currency(order: SimOrder, market: Market) -> str:
    """Kraken's order fee currency: the ``fcib``/``fciq`` flag, quote until a fill decides."""
    return order.fee_currency or market.quote


def within_half_tick(shown: float, value: float, market: Market) -> bool:
    """``shown`` is ``value`` rounded to the pair's tick (float noise allowed)."""
    return abs(shown - value) <= market.tick / 2 + 1e-9 * max(abs(value), 1.0)


def assert_rest_order(parsed: dict[str, Any], order: SimOrder, market: Market) -> None:
    assert parsed["id"] == order.order_id
    # No client id: Kraken sends userref 0, which ccxt reads as "0".
    assert parsed["clientOrderId"] == (order.client_order_id or "0")
    assert parsed["symbol"] == order.symbol
    assert parsed["side"] == order.side
    # ccxt maps Kraken's trigger types to market/limit but has no entry for a plain "trailing-stop".
    market_trailing = order.trigger_kind == "trailing_stop" and order.order_type == "market"
    assert parsed["type"] == ("trailing-stop" if market_trailing else order.order_type)
    assert parsed["status"] == STATUS[order.status]
    assert parsed["amount"] == approx(order.amount)
    assert parsed["filled"] == approx(order.filled)
    assert parsed["remaining"] == approx(order.remaining)
    assert parsed["timestamp"] == order.created_ms
    if order.status != "open":
        assert parsed["lastUpdateTimestamp"] == order.updated_ms
    # Kraken rounds the average fill price to the pair's decimals.
    if order.average is None:
        assert parsed["average"] is None
    else:
        assert within_half_tick(parsed["average"], order.average, market)
    if order.trigger_kind == "trailing_stop":
        pass  # ccxt reads the trailing offset (descr.price "+5.0") as the price; the normaliser does not
    elif order.price is not None:
        assert parsed["price"] == approx(order.price)
    elif order.average is not None:  # ccxt shows the (rounded) average of a market order
        assert within_half_tick(parsed["price"], order.average, market)
    else:
        assert parsed["price"] is None
    assert parsed["fee"]["cost"] is not None
    assert float(parsed["fee"]["cost"]) == approx(order.fee)
    assert parsed["fee"]["currency"] == fee_currency(order, market)


def assert_rest_trade(parsed: dict[str, Any], fill: SimFill, order: SimOrder, market: Market) -> None:
    assert parsed["id"] == fill.trade_id
    assert parsed["order"] == fill.order_id
    assert parsed["symbol"] == fill.symbol
    assert parsed["side"] == fill.side
    assert parsed["type"] == order.order_type
    assert parsed["price"] == approx(fill.price)
    assert parsed["amount"] == approx(fill.amount)
    assert parsed["cost"] == approx(fill.cost)
    assert parsed["timestamp"] == fill.ts_ms
    assert parsed["takerOrMaker"] == ("taker" if fill.taker else "maker")
    quote_fee = fill.fee * fill.price if fill.fee_currency == market.base else fill.fee
    assert parsed["fee"] == {"cost": approx(quote_fee), "currency": market.quote}


def assert_ws_trade(parsed: dict[str, Any], fill: SimFill, order: SimOrder) -> None:
    assert parsed["id"] == fill.trade_id
    assert parsed["order"] == fill.order_id
    assert parsed["symbol"] == fill.symbol
    assert parsed["side"] == fill.side
    assert parsed["type"] == order.order_type
    assert parsed["price"] == approx(fill.price)
    assert parsed["amount"] == approx(fill.amount)
    assert parsed["cost"] == approx(fill.cost)
    assert parsed["timestamp"] == fill.ts_ms
    assert parsed["takerOrMaker"] == ("taker" if fill.taker else "maker")
    assert parsed["fee"] == {"cost": approx(fill.fee), "currency": fill.fee_currency}


def assert_ws_order(parsed: dict[str, Any], order: SimOrder) -> None:
    """WS v2 as ccxt reads it: no ``filled`` unless closed, fee only as a USD equivalent."""
    assert parsed["id"] == order.order_id
    assert parsed["symbol"] == order.symbol
    assert parsed["side"] == order.side
    assert parsed["type"] == order.order_type
    assert parsed["status"] == STATUS[order.status]
    assert parsed["amount"] == approx(order.amount)
    assert parsed["cost"] == approx(order.cost)
    assert parsed["average"] == (approx(order.average) if order.average is not None else None)
    if order.status == "closed":
        assert parsed["filled"] == approx(order.amount)
    if order.price is not None:
        assert parsed["price"] == approx(order.price)
    assert parsed["info"].get("cl_ord_id") == order.client_order_id


def assert_balances(parsed: dict[str, Any], account: SimAccount, *, totals_only: bool = False) -> None:
    codes = {c for c in parsed if c not in ("info", "timestamp", "datetime", "free", "used", "total")}
    assert codes == set(account.balances)
    for code, bal in account.balances.items():
        assert parsed[code]["total"] == approx(bal.total)
        if totals_only:
            assert parsed[code]["free"] is None
            assert parsed[code]["used"] is None
        else:
            assert parsed[code]["used"] == approx(bal.used)
            assert parsed[code]["free"] == approx(bal.free)
