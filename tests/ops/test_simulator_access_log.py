"""The simulator logs one line per HTTP request only when asked (``simulate --access-log``)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

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


async def served_and_logged(tmp_path: Path, *flags: str) -> str:
    """``fullon-account simulate`` as a process: three requests to its control endpoint, then
    SIGINT; what it wrote to stderr."""
    script = Path(sys.executable).with_name("fullon-account")
    env = {**os.environ, "LOG_LEVEL": "INFO", "ACCOUNT_DATA_DIR": str(tmp_path)}
    proc = await asyncio.create_subprocess_exec(
        str(script),
        *("simulate", "--venues", "kraken", "--accounts", "1", "--rate", "1", *flags),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(120):
            line = ""
            while not line.startswith("control endpoint: "):
                raw = await proc.stdout.readline()
                assert raw, "the simulator ended before announcing its control endpoint"
                line = raw.decode()
        url = line.split()[2]
        async with aiohttp.ClientSession() as http:
            for _ in range(3):
                async with http.get(f"{url}/faults") as response:
                    assert response.status == 200
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(60):
            _, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    return err.decode()


async def test_simulate_command_logs_requests_only_with_access_log(tmp_path: Path) -> None:
    quiet = await served_and_logged(tmp_path)
    assert "GET /faults" not in quiet and "running at" in quiet
    logged = await served_and_logged(tmp_path, "--access-log")
    assert logged.count("GET /faults") == 3, logged
