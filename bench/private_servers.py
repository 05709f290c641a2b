"""Private redis-server processes on free loopback ports, for benchmarks and tests that kill them.

``free_port`` picks a port nobody listens on, ``redis_argv`` the command line of a server that
keeps its files (and log) in one folder, ``start_redis`` (asyncio) and ``wait_until`` (blocking,
for the cluster's nodes) wait until the server answers, failing with the reason after a deadline
rather than hanging. Each server runs in a session of its own, so killing its process group kills
exactly it, and dies with the process that started it. Tests reach this module the way they reach
``cluster_servers``: ``tests/cluster_session`` puts ``bench/`` on ``sys.path``.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path

import redis
import redis.asyncio as aioredis

READY_TIMEOUT_S = 60.0
DIE_WITH_PARENT = ("setpriv", "--pdeathsig", "KILL", "--")
"""util-linux's ``setpriv`` sets the parent-death signal (``PR_SET_PDEATHSIG``) and execs the
server, which keeps it: the kernel kills the server when the process (strictly: the thread) that
started it dies, however that died. Each server runs in a session of its own, so a signal to the
bench's or the test run's process group never reaches it, and a run killed outright (``SIGKILL``,
an interrupted ``pytest``, a bench killed by ``timeout``) has no ``finally`` to stop it: before
stop 25 its servers outlived it."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def redis_argv(port: int, folder: Path, *options: str, appendonly: bool = False) -> list[str]:
    """redis-server on ``127.0.0.1:port``, no RDB snapshots, files and log in ``folder``, killed
    when the process that started it dies (``DIE_WITH_PARENT``)."""
    return [
        *DIE_WITH_PARENT,
        shutil.which("redis-server") or "redis-server",
        "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
        "--save", "", "--appendonly", "yes" if appendonly else "no",
        "--logfile", str(folder / "redis.log"), *options,
    ]  # fmt: skip


def wait_until(what: str, ready: Callable[[], object], timeout_s: float = READY_TIMEOUT_S) -> None:
    """Poll ``ready()`` (a Redis error counts as not yet) until it is true, or fail naming
    ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(redis.RedisError):
            if ready():
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not reached within {timeout_s:g}s")
        time.sleep(0.05)


async def start_redis(argv: list[str], *, timeout_s: float = READY_TIMEOUT_S) -> asyncio.subprocess.Process:
    """Start ``argv`` (from ``redis_argv``) and return once it answers PING; a server that exits or
    stays silent first is killed and reported with its log."""
    port = int(argv[argv.index("--port") + 1])
    log = argv[argv.index("--logfile") + 1]
    proc = await asyncio.create_subprocess_exec(*argv, start_new_session=True)
    client = aioredis.Redis(host="127.0.0.1", port=port)
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                if proc.returncode is not None:
                    raise RuntimeError(f"redis-server exited {proc.returncode}; see {log}")
                with contextlib.suppress(redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
                    if await client.ping():
                        return proc
                await asyncio.sleep(0.05)
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    finally:
        await client.aclose()
