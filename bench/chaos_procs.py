"""The service's processes in a chaos run: real ``fullon-account`` subprocesses, each in its own
process group, logging to its own file, killed and restarted at will.

``Service`` is one producer or sink: ``start`` appends to its log (one file over every restart, so
the canary scan sees everything it ever wrote), ``kill`` is a SIGKILL of its group, ``reap_exit``
notices one that ended by itself. ``service_env`` is the environment every process gets: the
private servers' URLs and the run's files, and none of the caller's Redis or database variables.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chaos_servers import Reaper

CLI = str(Path(sys.executable).with_name("fullon-account"))
_FOREIGN_PREFIXES = ("REDIS_", "CACHE_", "DB_", "DATABASE_", "ACCOUNT_", "EX_ID_", "LOG_")


def service_env(overlay: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any backend, account or log variable, plus ``overlay``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_PREFIXES)}
    return {**base, **overlay}


@dataclass(slots=True)
class Service:
    name: str
    kind: str
    """``producer``, ``sink-cache`` or ``sink-orm``: what kills are counted by."""
    args: list[str]
    log: Path
    reaper: Reaper
    ready_marker: bytes = b""
    """A log line's text that says it is at work (``collecting``, ``sink started``)."""
    starts: int = 0
    exits: list[int] = field(default_factory=list)
    """Exit codes of the times it ended without being killed."""
    _proc: asyncio.subprocess.Process | None = None
    _log_offset: int = 0

    async def start(self, env: Mapping[str, str]) -> None:
        self._log_offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self._proc = await asyncio.create_subprocess_exec(
                CLI, *self.args, env=dict(env), stdin=asyncio.subprocess.DEVNULL,
                stdout=out, stderr=out, start_new_session=True,
            )  # fmt: skip
        self.reaper.add(self._proc.pid)
        self.starts += 1

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    def ready(self) -> bool:
        """Running, and its log says so since this start: a kill then hits a process at work."""
        if not self.running:
            return False
        with self.log.open("rb") as f:
            f.seek(self._log_offset)
            return self.ready_marker in f.read()

    async def kill(self) -> None:
        if self._proc is not None:
            await self.reaper.kill(self._proc)
            self._proc = None

    def reap_exit(self) -> bool:
        """True (and the code recorded) if it ended by itself since it was started."""
        if self._proc is None or self._proc.returncode is None:
            return False
        self.exits.append(self._proc.returncode)
        self.reaper.discard(self._proc.pid)
        self._proc = None
        return True

    async def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM (clean shutdown), SIGKILL if it has not ended within ``timeout_s``."""
        if self._proc is None:
            return
        if self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await self._proc.wait()
        await self.kill()


def pipeline(root: Path, reaper: Reaper, *, producers: int = 2, sinks_per_group: int = 2) -> list[Service]:
    """The producers (``--shard i/n``) and the sinks of both groups, not started yet."""
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    services = [
        Service(
            f"producer-{i}",
            "producer",
            ["producer", "--shard", f"{i}/{producers}"],
            logs / f"producer-{i}.log",
            reaper,
            b"collecting",
        )
        for i in range(producers)
    ]
    for group in ("cache", "orm"):
        services += [
            Service(
                f"sink-{group}-{i}",
                f"sink-{group}",
                ["sink", "--group", group],
                logs / f"sink-{group}-{i}.log",
                reaper,
                b"sink started",
            )
            for i in range(sinks_per_group)
        ]
    return services
