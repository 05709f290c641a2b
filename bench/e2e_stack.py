"""The processes of one end-to-end run, started through the CLI as in production.

``fullon-account simulate --register`` serves the venues and registers its accounts in the
database; ``fullon-account producer`` and one ``fullon-account sink`` per group read the secrets
and URL overrides it wrote. Each is the venv's own console script (no ``uv run`` wrapper), so the
pid is the Python process whose CPU time ``cpu_s`` reads from ``/proc``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("fullon-account")
STARTUP_S = 180.0
STOP_S = 30.0
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


@dataclass
class Proc:
    name: str
    proc: asyncio.subprocess.Process
    tail: list[str] = field(default_factory=list)
    _drain: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def keep_draining(self) -> None:
        """Read its output to the end, keeping the last lines for a failure message (a full pipe
        would block the process)."""
        assert self.proc.stdout is not None
        self._drain = asyncio.get_running_loop().create_task(self._read(self.proc.stdout))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.tail = [*self.tail[-19:], line.decode(errors="replace")]

    def check_alive(self) -> None:
        if self.proc.returncode is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n" + "".join(self.tail))

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(STOP_S):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._drain is not None:
            self._drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drain


async def spawn(name: str, args: list[str], env: Mapping[str, str], cwd: Path) -> Proc:
    proc = await asyncio.create_subprocess_exec(
        str(SCRIPT),
        *args,
        env={**os.environ, **env},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    return Proc(name, proc)


def base_env(cwd: Path, prefix: str, redis_url: str, database_url: str) -> dict[str, str]:
    """What every process of a run shares; the simulator's secrets and overrides come later."""
    return {
        "ACCOUNT_DATA_DIR": str(cwd / "data"),
        "ACCOUNT_STREAM_PREFIX": prefix,
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "ACCOUNT_SECRETS_FILE": "",
        "ACCOUNT_EXCHANGE_OVERRIDES": "",
    }


@dataclass(frozen=True)
class SimulatorInfo:
    control_url: str
    secrets: Path
    overrides: Path


_CONTROL = re.compile(r"control endpoint: (http://127\.0\.0\.1:\d+)")
_EXPORTS = re.compile(r"export ACCOUNT_SECRETS_FILE=(\S+) ACCOUNT_EXCHANGE_OVERRIDES=(\S+)")


async def start_simulator(
    env: Mapping[str, str], cwd: Path, venues: str, accounts: int, seed: int
) -> tuple[Proc, SimulatorInfo]:
    """The simulator, idle (its own pace is one step in 1,000 s: the bench drives ``/step``),
    with its accounts registered."""
    args = ["simulate", "--venues", venues, "--accounts", str(accounts), "--seed", str(seed)]
    sim = await spawn("simulator", [*args, "--rate", "0.001", "--register"], env, cwd)
    assert sim.proc.stdout is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(STARTUP_S):
            while not (exports := _EXPORTS.search("".join(seen[-3:]))):
                line = (await sim.proc.stdout.readline()).decode()
                if not line:
                    raise RuntimeError("simulate ended early:\n" + "".join(seen[-20:]))
                seen.append(line)
    except BaseException:
        await sim.stop()
        raise
    control = _CONTROL.search("".join(seen))
    assert control is not None, "".join(seen)
    sim.keep_draining()
    return sim, SimulatorInfo(control.group(1), Path(exports.group(1)), Path(exports.group(2)))


async def start_pipeline(
    env: Mapping[str, str], cwd: Path, producer_args: list[str], producer_env: Mapping[str, str]
) -> list[Proc]:
    """The producer (with ``producer_env`` on top of ``env``) and one sink per group, each in its
    own process."""
    procs = [
        await spawn("producer", ["producer", *producer_args], {**env, **producer_env}, cwd),
        await spawn("sink cache", ["sink", "--group", "cache", "--consumer", "e2e-cache"], env, cwd),
        await spawn("sink orm", ["sink", "--group", "orm", "--consumer", "e2e-orm"], env, cwd),
    ]
    for proc in procs:
        proc.keep_draining()
    return procs
