"""Simulator lifecycle and control endpoint, with a stand-in venue (real venues have their own tests)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sim_clock import until

from fullon_account_service.simulator import server
from fullon_account_service.simulator.model import SimAccount, World
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator
from fullon_account_service.simulator.venue import VenueSpec


class _EchoVenue:
    def __init__(self, name: str) -> None:
        self.name = name

    def build_app(self, world: World) -> web.Application:
        async def count(_: web.Request) -> web.Response:
            return web.json_response({"accounts": len(world.accounts_of(self.name))})

        app = web.Application()
        app.router.add_get("/count", count)
        return app

    def client_config(self, account: SimAccount, base_url: str) -> dict[str, Any]:
        return {"apiKey": account.api_key, "secret": account.secret, "urls": {"api": base_url}}


def _fake_loader(name: str) -> VenueSpec:
    if name == "hyperliquid":
        raise ImportError("not written yet")
    return _EchoVenue(name)


@pytest.fixture(autouse=True)
def _stand_in_venues(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "load_venue", _fake_loader)


async def test_venues_and_control_listen_on_loopback_only() -> None:
    async with asyncio.timeout(60), Simulator(ScenarioConfig(accounts_per_venue=2, seed=4)) as sim:
        assert set(sim.venues) == {"kraken", "bybit"}
        assert "hyperliquid" in sim.unavailable
        with pytest.raises(KeyError):
            sim.base_url("hyperliquid")
        urls = [sim.base_url("kraken"), sim.base_url("bybit"), sim.control_url]
        assert all(u.startswith("http://127.0.0.1:") for u in urls)
        for runner in sim._runners:
            assert all(addr[0] == "127.0.0.1" for addr in runner.addresses)
        port = int(sim.base_url("kraken").rsplit(":", 1)[1])
        with socket.socket() as probe:
            probe.settimeout(1)
            assert probe.connect_ex(("127.0.0.1", port)) == 0
        async with aiohttp.ClientSession() as session, session.get(sim.base_url("kraken") + "/count") as r:
            assert await r.json() == {"accounts": 2}
        account = sim.world.accounts_of("bybit")[1]
        assert sim.client_config(account)["urls"]["api"] == sim.base_url("bybit")


async def test_control_endpoint_changes_faults_and_steps() -> None:
    async with asyncio.timeout(60), Simulator(ScenarioConfig(seed=4), venues=("kraken",)) as sim:
        faults = sim.world.faults
        async with aiohttp.ClientSession(base_url=sim.control_url) as session:
            async with session.get("/faults") as r:
                assert (await r.json())["rate_limit_probability"] == 0.0
            body = {"rate_limit_probability": 0.25, "ws_drop_every_s": 5, "slow_response_ms": 10}
            async with session.post("/faults", json=body) as r:
                assert r.status == 200
            assert faults.rate_limit_probability == 0.25
            assert faults.ws_drop_every_s == 5.0 and faults.slow_response_ms == 10
            async with session.post(
                "/faults", json={"ws_drop_every_s": None, "refuse_connections_for_s": 2}
            ) as r:
                assert r.status == 200
            assert faults.ws_drop_every_s is None
            assert faults.refuse_connections_until_ms > sim.world.now_ms() + 1_000
            for bad in ({"nope": 1}, {"slow_response_ms": "x"}, {"rate_limit_probability": 0.9, "x": 1}, [1]):
                async with session.post("/faults", json=bad) as r:
                    assert r.status == 400
            assert faults.rate_limit_probability == 0.25  # nothing half-applied

            async with session.post("/step", params={"n": "50"}) as r:
                assert (await r.json()) == {"steps": 50}
            async with session.post("/step", params={"n": "0"}) as r:
                assert r.status == 400
            async with session.get("/truth") as r:
                truth = await r.json()
            assert sum(len(a["orders"]) for a in truth["accounts"]) > 0
            async with session.get("/accounts") as r:
                rows = await r.json()
            kraken = [row for row in rows if row["venue"] == "kraken"]
            assert kraken and all(row["config"]["urls"]["api"] == sim.base_url("kraken") for row in kraken)
            assert all(row["config"] is None for row in rows if row["venue"] != "kraken")


async def test_background_engine_runs_and_stops() -> None:
    config = ScenarioConfig(accounts_per_venue=1, seed=2, rate_per_s=500)
    async with asyncio.timeout(60), Simulator(config, venues=()) as sim:
        sim.start_engine()
        await until(lambda: sim.engine.steps > 10, "the engine ran ten steps")
        await sim.stop_engine()
        steps = sim.engine.steps
        await asyncio.sleep(0.05)  # time it would step in, were it running
        assert sim.engine.steps == steps


async def test_scenario_stop_endpoint_stops_the_engine_and_keeps_serving() -> None:
    config = ScenarioConfig(accounts_per_venue=1, seed=2, rate_per_s=500)
    async with (
        asyncio.timeout(30),
        Simulator(config, venues=()) as sim,
        aiohttp.ClientSession(sim.control_url) as session,
    ):
        sim.start_engine()
        while sim.engine.steps == 0:  # the engine offers no "stepped" event
            await asyncio.sleep(0.01)
        async with session.post("/scenario/stop") as r:
            stopped = (await r.json())["steps"]
        assert stopped == sim.engine.steps > 0
        async with session.get("/truth") as r:
            assert r.status == 200
        async with session.post("/scenario/stop") as r:
            assert (await r.json())["steps"] == stopped == sim.engine.steps
