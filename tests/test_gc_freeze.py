"""What start-up holds for good leaves the collector's full passes, once per venue or simulator
(``gc_freeze``)."""

from __future__ import annotations

import gc

import pytest

from fullon_account_service import gc_freeze
from fullon_account_service.producers import clients
from fullon_account_service.producers.clients import ClientFactory, strip_credentials
from fullon_account_service.producers.credentials import Credentials
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator


def test_objects_alive_at_the_freeze_leave_the_collectors_generations(unfrozen: None) -> None:
    held = [{"market": "BTC/USD"}]
    gc_freeze.freeze_permanent("kraken")
    assert gc.get_freeze_count() > 0
    assert not any(o is held for o in gc.get_objects())
    later = [{"market": "ETH/USD"}]
    assert any(o is later for o in gc.get_objects())


def test_a_venue_is_frozen_once_per_process(unfrozen: None, monkeypatch: pytest.MonkeyPatch) -> None:
    freezes: list[int] = []
    monkeypatch.setattr(gc, "freeze", lambda: freezes.append(1))
    for venue in ("kraken", "kraken", "bybit", "kraken"):
        gc_freeze.freeze_permanent(venue)
    assert len(freezes) == 2


async def test_a_factory_asks_for_the_freeze_when_it_loads_a_venues_markets(
    unfrozen: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real ccxt against the simulator; two factories (two daemons in one process) ask once each,
    as a session does (markets first, then its client), and `freeze_permanent` itself acts once
    per venue. A factory with an account client alive does not ask: the client would be frozen
    with its session and never freed (tests/producers/test_session_after_lease_loss.py)."""
    venues: list[str] = []
    monkeypatch.setattr(clients, "freeze_permanent", venues.append)
    config = ScenarioConfig(venues=("kraken",), accounts_per_venue=1, seed=3)
    async with Simulator(config) as sim:
        account = sim.world.accounts_of("kraken")[0]
        for markets_first in (True, True, False):
            factory = ClientFactory({"kraken": strip_credentials(sim.client_config(account))})
            if markets_first:
                await factory.load_markets("kraken")
            client = factory.create("kraken", Credentials(account.api_key, account.secret))
            try:
                await factory.ensure_markets(client)
                await factory.ensure_markets(client)
                assert client.markets
            finally:
                await client.close()
                await factory.close()
    assert venues == ["kraken", "kraken"]
