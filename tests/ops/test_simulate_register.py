"""``simulate --register``: the simulated accounts registered with their credentials in one step."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import stat
import sys
from pathlib import Path

from ops_helpers import run_cli

from fullon_account_service.cli.simulate_register import SIM_USER

STARTUP_S = 120.0


async def read_until(stream: asyncio.StreamReader, marker: str, deadline_s: float) -> str:
    """Lines of ``stream`` up to the one containing ``marker``."""
    seen: list[str] = []
    async with asyncio.timeout(deadline_s):
        while True:
            line = (await stream.readline()).decode()
            if not line:
                raise AssertionError("simulate ended before printing " + marker + ":\n" + "".join(seen))
            seen.append(line)
            if marker in line:
                return "".join(seen)


async def test_register_writes_a_private_secrets_file_the_producer_side_accepts(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    script = Path(sys.executable).with_name("fullon-account")
    args = ["simulate", "--venues", "kraken,bybit", "--accounts", "1", "--rate", "1", "--duration", "300"]
    sim = await asyncio.create_subprocess_exec(
        str(script),
        *args,
        "--register",
        "--secrets",
        "sim-secrets.json",
        env={**os.environ, **cli_env},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert sim.stdout is not None
        out = await read_until(sim.stdout, "to watch them:", STARTUP_S)
        exports = re.search(r"export ACCOUNT_SECRETS_FILE=(\S+) ACCOUNT_EXCHANGE_OVERRIDES=(\S+)", out)
        assert exports, out
        secrets, overrides = Path(exports.group(1)), Path(exports.group(2))
        assert secrets.is_absolute() and overrides.is_absolute()
        assert secrets == cwd / "sim-secrets.json"
        assert overrides == (Path(cli_env["ACCOUNT_DATA_DIR"]) / "simulator-overrides.json").resolve()
        assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
        ex_ids = sorted(int(n) for n in json.loads(secrets.read_text()))
        assert len(ex_ids) == 2

        env = {**cli_env, "ACCOUNT_SECRETS_FILE": str(secrets), "ACCOUNT_EXCHANGE_OVERRIDES": str(overrides)}
        code, listed, err = await run_cli(["accounts", "list", "--json"], env)
        assert code == 0, err
        rows = {row["ex_id"]: row for row in json.loads(listed)}
        assert set(rows) == set(ex_ids)
        assert {row["exchange"] for row in rows.values()} == {"kraken", "bybit"}
        assert all(row["credentials"] == "set" and row["user"] == SIM_USER for row in rows.values())
        code, checked, err = await run_cli(
            ["accounts", "test", "--ex-id", str(ex_ids[0])], env, timeout_s=120
        )
        assert code == 0, err
        assert checked.startswith("ok:")
    finally:
        if sim.returncode is None:
            sim.send_signal(signal.SIGINT)
        async with asyncio.timeout(60):
            await sim.wait()
