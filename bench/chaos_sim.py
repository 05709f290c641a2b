"""The simulator of a chaos run: ``fullon-account simulate --register`` in a subprocess, driven over
its control endpoint.

Its stdout prints the accounts' test credentials by design, so it is read here, in memory, for the
control URL and the registered ex_ids, and never written to a file (its stderr goes to the log the
canary scan reads). ``--register`` adds the 3 x 3 accounts to the run's database and writes their
secrets (0600) and the ccxt URL overrides, which are then given the loopback request pacing.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp

from chaos_procs import CLI
from chaos_servers import Reaper

FUNDING_EVERY_S = 5.0
"""Funding rounds on open perp positions: many per run (the simulator's default is one a minute),
so that funding entries are among the ledger entries checked; deposits, withdrawals and transfers
are always among the scenario's actions."""
LOOPBACK_RATE_LIMIT_MS = 20
"""ccxt's pacing between requests; the venues' own (up to seconds) would slow reconciliation for nothing."""
EVERY_FAULT: dict[str, float] = {
    "ws_drop_every_s": 20.0,
    "ws_drop_probability": 0.002,
    "rate_limit_probability": 0.05,
    "rate_limit_retry_after_s": 0.5,
    "server_error_probability": 0.03,
    "slow_response_ms": 20,
    "malformed_frame_probability": 0.01,
    "truncated_frame_probability": 0.01,
    "duplicate_probability": 0.03,
    "reorder_probability": 0.03,
    "rest_only_fill_probability": 0.05,
    "early_order_update_probability": 0.05,
}
NO_FAULT: dict[str, float | None] = {name: 0.0 for name in EVERY_FAULT} | {"ws_drop_every_s": None}
_CONTROL = re.compile(r"control endpoint: (http://127\.0\.0\.1:\d+)")
_EX_ID = re.compile(r"^\s+ex_id (\d+): (\w+) sim-\w+-(\d+)$")
_STARTUP_TIMEOUT_S = 120.0


class SimulatorProcess:
    def __init__(self, root: Path, reaper: Reaper, *, seed: int, rate: float, accounts: int) -> None:
        self.root = root
        self.secrets = root / "secrets.json"
        self.overrides = root / "overrides.json"
        self.log = root / "logs" / "simulator.log"
        self.seed, self.rate, self.accounts = seed, rate, accounts
        self.reaper = reaper
        self.control_url = ""
        self.ex_ids: dict[tuple[str, int], int] = {}
        self._proc: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None

    async def start(self, env: Mapping[str, str]) -> None:
        args = [
            "simulate", "--accounts", str(self.accounts), "--seed", str(self.seed), "--rate", str(self.rate),
            "--funding-every-s", str(FUNDING_EVERY_S), "--faults", json.dumps(EVERY_FAULT),
            "--register", "--secrets", str(self.secrets), "--overrides", str(self.overrides),
        ]  # fmt: skip
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as err:
            self._proc = await asyncio.create_subprocess_exec(
                CLI, *args, env=dict(env), stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=err, start_new_session=True,
            )  # fmt: skip
        self.reaper.add(self._proc.pid)
        async with asyncio.timeout(_STARTUP_TIMEOUT_S):
            await self._read_announcement()
        self._drain = asyncio.get_running_loop().create_task(self._discard_stdout(), name="chaos-sim-stdout")
        overrides = json.loads(self.overrides.read_text())
        for config in overrides.values():
            config["rateLimit"] = LOOPBACK_RATE_LIMIT_MS
        self.overrides.write_text(json.dumps(overrides))
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))

    async def _read_announcement(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        async for raw in self._proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            if m := _CONTROL.search(line):
                self.control_url = m.group(1)
            elif m := _EX_ID.match(line):
                self.ex_ids[(m.group(2), int(m.group(3)))] = int(m.group(1))
            elif line.startswith("to watch them:"):
                return
        raise RuntimeError(f"simulate exited before registering its accounts; see {self.log}")

    async def _discard_stdout(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        async for _ in self._proc.stdout:
            pass

    @property
    def canaries(self) -> list[str]:
        """The registered accounts' secrets: none may appear anywhere but the secrets file."""
        return [str(entry["secret"]) for entry in json.loads(self.secrets.read_text()).values()]

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        assert self._http is not None
        async with self._http.request(method, self.control_url + path, json=body) as response:
            response.raise_for_status()
            return await response.json()

    async def set_faults(self, faults: Mapping[str, float | None]) -> None:
        await self._call("POST", "/faults", dict(faults))

    async def stop_scenario(self) -> int:
        steps: int = (await self._call("POST", "/scenario/stop"))["steps"]
        return steps

    async def truth(self) -> dict[str, Any]:
        truth: dict[str, Any] = await self._call("GET", "/truth")
        return truth

    async def injected(self) -> dict[str, int]:
        injected: dict[str, int] = (await self._call("GET", "/stats"))["faults_injected"]["total"]
        return injected

    async def subscribed(self) -> set[tuple[str, int]]:
        """Accounts with at least one private channel subscribed right now."""
        rows = (await self._call("GET", "/stats"))["subscriptions"]
        return {
            (row["venue"], row["index"]) for row in rows if any(c["active"] for c in row["channels"].values())
        }

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._proc is not None:
            await self.reaper.kill(self._proc)
        if self._drain is not None:
            await asyncio.gather(self._drain, return_exceptions=True)
