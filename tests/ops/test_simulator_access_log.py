"""The simulator logs one line per HTTP request only when asked (``simulate --access-log``)."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator


async def requests_logged(caplog: pytest.LogCaptureFixture, **kwargs: bool) -> list[str]:
    caplog.clear()
    config = ScenarioConfig(venues=("kraken",), accounts_per_venue=1)
    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        async with Simulator(config, **kwargs) as sim, aiohttp.ClientSession() as http:
            for _ in range(3):
                async with http.get(f"{sim.control_url}/faults") as response:
                    assert response.status == 200
    return [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]


async def test_access_log_is_off_unless_asked_for(caplog: pytest.LogCaptureFixture) -> None:
    assert await requests_logged(caplog) == []
    logged = await requests_logged(caplog, access_log=True)
    assert len(logged) == 3 and all("GET /faults" in line for line in logged)
