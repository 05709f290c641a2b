"""The chaos run's own Redis and PostgreSQL: private servers it may kill without touching anyone else's.

Each listens on a free loopback port and keeps its files in the run's temp directory. Redis runs
append-only, so a SIGKILL loses nothing it acknowledged (the AOF is written before the reply; only
a machine crash could lose the last second) and a restart replays the file. PostgreSQL is a fresh
cluster (trust auth, ``fsync=off`` because the run kills processes, never the machine) started and
stopped with ``pg_ctl``; ``initdb`` and the server run as the ``postgres`` user when the run is root.

Every process either server starts is in a process group recorded in ``Reaper``, which kills them
all when the run ends, however it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from private_servers import free_port, redis_argv, start_redis

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_DATABASE = "fullon"


@dataclass(slots=True)
class Reaper:
    """Process groups started by the run; ``reap`` SIGKILLs each one still alive."""

    groups: set[int] = field(default_factory=set)

    def add(self, pgid: int) -> None:
        if pgid != os.getpgid(0):
            self.groups.add(pgid)

    def discard(self, pgid: int) -> None:
        self.groups.discard(pgid)

    async def kill(self, proc: asyncio.subprocess.Process) -> None:
        """SIGKILL ``proc``'s group and wait for ``proc`` to be gone."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        self.discard(proc.pid)

    def reap(self) -> None:
        for pgid in sorted(self.groups):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        self.groups.clear()


async def run_checked(
    argv: list[str], *, timeout_s: float = 120.0, env: Mapping[str, str] | None = None
) -> str:
    """Run a short command to completion; its output, or RuntimeError with the output."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
        env=None if env is None else dict(env),
    )
    try:
        async with asyncio.timeout(timeout_s):
            out, _ = await proc.communicate()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        raise RuntimeError(f"{argv[0]} did not finish within {timeout_s:g}s") from None
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {text.strip()[-2000:]}")
    return text


class PrivateRedis:
    def __init__(self, root: Path, reaper: Reaper) -> None:
        self.dir = root / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = self.dir / "redis.log"
        self.port = free_port()
        self._reaper = reaper
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        argv = redis_argv(self.port, self.dir, "--protected-mode", "yes", appendonly=True)
        self._proc = await start_redis(argv)
        self._reaper.add(self._proc.pid)

    async def kill(self) -> None:
        """SIGKILL: no shutdown save, only the append-only file survives."""
        if self._proc is not None:
            await self._reaper.kill(self._proc)
            self._proc = None


class PrivatePostgres:
    def __init__(self, root: Path, reaper: Reaper) -> None:
        self.dir = root / "postgres"
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = free_port()
        self._reaper = reaper
        self._as_postgres = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{PG_DATABASE}"

    def _argv(self, tool: str, *args: str) -> list[str]:
        argv = [str(PG_BIN / tool), *args]
        return ["runuser", "-u", "postgres", "--", *argv] if self._as_postgres else argv

    async def init(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            os.chmod(self.dir.parent, 0o755)
        await run_checked(
            self._argv(
                "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"
            )
        )
        await self.start()
        await run_checked(
            self._argv("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", PG_DATABASE)
        )

    async def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        )
        await run_checked(
            self._argv("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        )
        pid = self.postmaster_pid()
        if pid is not None:
            self._reaper.add(os.getpgid(pid))

    def postmaster_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.data / "postmaster.pid").read_text().splitlines()[0])
        return None

    async def stop_immediate(self) -> None:
        """``pg_ctl stop -m immediate``: the server quits without a checkpoint, as a crash would."""
        await run_checked(self._argv("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop"))

    async def dump(self) -> str:
        """Every row of the service's database as text (``pg_dump --data-only``), for the canary scan."""
        return await run_checked(
            self._argv(
                "pg_dump",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "--data-only",
                PG_DATABASE,
            )
        )
