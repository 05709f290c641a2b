"""Each simulated venue answers ccxt's ``fetch_order`` for an order that is no longer open, as the
producer's order resolution asks it, with the order's final status and filled amount; an id the
venue never issued is a "not found", never an invented order."""

from __future__ import annotations

import ccxt
import pytest
from sim_clock import Clock, ccxt_client, step_scenario

from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

START_MS = 1_700_000_000_000
_PARAMS = {"bybit": {"acknowledged": True}}
_EXPECTED = {("kraken", "rejected"): "canceled"}
_GHOSTS = {
    "kraken": "OAAAAA-BBBBB-CCCCCC",
    "bybit": "00000000-0000-4000-8000-000000000000",
    "hyperliquid": "99999999999",
}


@pytest.mark.parametrize("venue", ["kraken", "bybit", "hyperliquid"])
async def test_fetch_order_reads_a_finished_order_and_refuses_an_unknown_one(venue: str) -> None:
    clock = Clock(START_MS)
    async with Simulator(ScenarioConfig(venues=(venue,), accounts_per_venue=1, seed=9), now_ms=clock) as sim:
        account = sim.world.accounts[0]
        step_scenario(sim, clock, 300, 500)
        finished = [o for o in account.orders.values() if o.status in ("closed", "canceled")]
        assert finished, "the scenario must finish some orders"
        async with ccxt_client(venue, sim.client_config(account)) as exchange:
            for order in finished[-3:]:
                got = await exchange.fetch_order(order.order_id, order.symbol, _PARAMS.get(venue, {}))
                assert str(got["id"]) == order.order_id
                assert got["filled"] == pytest.approx(order.filled, rel=1e-9, abs=1e-12)
                want = _EXPECTED.get((venue, order.status), order.status)
                if venue == "bybit" and order.status == "canceled" and order.filled > 0:
                    want = "closed"  # ccxt reads PartiallyFilledCanceled as closed
                assert got["status"] == want, order
            symbol = finished[-1].symbol
            try:
                ghost = await exchange.fetch_order(_GHOSTS[venue], symbol, _PARAMS.get(venue, {}))
            except (ccxt.OrderNotFound, ccxt.InvalidOrder, ccxt.BadRequest):
                return
            assert str(ghost.get("id")) != _GHOSTS[venue], "the venue invented an order"
