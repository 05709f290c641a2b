"""The clients of a venue share ccxt's read-only ``describe()`` tables (``clients.SHARED_TABLES``)
and still work: real ccxt against the simulator, for each venue."""

from __future__ import annotations

from typing import Any

import ccxt
import pytest

from fullon_account_service.producers.clients import SHARED_TABLES, ClientFactory, strip_credentials
from fullon_account_service.producers.credentials import Credentials
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

WRONG_SECRET = {"kraken": "c2VjcmV0LXRoYXQtaXMtd3Jvbmc=", "bybit": "X" * 36}
"""Venues whose private reads are signed: a wrong secret must still be told from ccxt's shared
``exceptions`` table as an authentication error."""


def _credentials(config: dict[str, Any]) -> Credentials:
    if "walletAddress" in config:
        return Credentials(config["walletAddress"], config["privateKey"])
    return Credentials(config["apiKey"], config["secret"])


@pytest.mark.parametrize("venue", ["kraken", "bybit", "hyperliquid"])
async def test_a_venues_clients_share_the_describe_tables_and_still_read(venue: str) -> None:
    config = ScenarioConfig(venues=(venue,), accounts_per_venue=2, seed=5)
    async with Simulator(config) as sim:
        accounts = sim.world.accounts_of(venue)
        configs = [sim.client_config(account) for account in accounts]
        factory = ClientFactory({venue: strip_credentials(configs[0])})
        made: list[Any] = []
        try:
            loader = await factory.load_markets(venue)
            made = [factory.create(venue, _credentials(c)) for c in configs]
            for name in SHARED_TABLES:
                assert all(getattr(c, name) is getattr(loader, name) for c in made), name
            assert made[0].options is not made[1].options
            assert made[0].urls is not made[1].urls
            assert made[0].has["watchOrders"] and made[0].has["fetchBalance"]
            for client in made:
                await factory.ensure_markets(client)
                assert isinstance(await client.fetch_balance(), dict)
            wrong = WRONG_SECRET.get(venue)
            if wrong is not None:
                made.append(factory.create(venue, Credentials(_credentials(configs[0]).key, wrong)))
                await factory.ensure_markets(made[-1])
                with pytest.raises(ccxt.AuthenticationError):
                    await made[-1].fetch_balance()
        finally:
            for client in made:
                await client.close()
            await factory.close()
