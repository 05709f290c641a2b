"""``producer`` and ``sink`` refuse a Redis nobody else can read, unless asked with ``--embedded``."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

UNSET = ("REDIS_URL", "CACHE_HOST", "REDIS_HOST")


def no_redis_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(ACCOUNT_DATA_DIR=str(tmp_path), LOG_LEVEL="INFO", LOG_CONSOLE="true", DATABASE_URL="")
    return env


async def run(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    script = Path(sys.executable).with_name("fullon-account")
    proc = await asyncio.create_subprocess_exec(
        str(script), *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(120):
        _, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, err.decode()


@pytest.mark.parametrize("args", [["producer"], ["sink", "--group", "orm"]], ids=["producer", "sink"])
async def test_refuses_to_start_without_a_shared_redis(args: list[str], tmp_path: Path) -> None:
    code, err = await run(args, no_redis_env(tmp_path))
    assert code == 2, err
    [line] = err.strip().splitlines()
    assert "REDIS_URL" in line and "--embedded" in line
    assert line.startswith(f"error: {args[0]} needs a Redis that other processes share")


@pytest.mark.parametrize(
    ("args", "started"),
    [
        (["producer", "--embedded"], "Starting AccountDaemon"),
        (["sink", "--group", "cache", "--embedded"], "sink started"),
    ],
    ids=["producer", "sink"],
)
async def test_embedded_starts_on_the_in_process_redis(args: list[str], started: str, tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("fullon-account")
    proc = await asyncio.create_subprocess_exec(
        str(script),
        *args,
        env=no_redis_env(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(300):
            while not any(started in line for line in seen):
                line = await proc.stderr.readline()
                assert line, "exited early:\n" + "".join(seen)
                seen.append(line.decode())
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    # It started; SIGTERM may land before the daemon installed its handler, hence -SIGTERM too.
    assert proc.returncode in (0, -signal.SIGTERM), "".join(seen)


CHECK_IMPORTS = """
import sys
from fullon_account_service.cli.app import app
try:
    app(sys.argv[1:])
except SystemExit as e:
    print("exit", e.code, "ccxt imported" if "ccxt" in sys.modules else "ccxt not imported")
"""


@pytest.mark.parametrize("args", [["producer"], ["sink", "--group", "orm"]], ids=["producer", "sink"])
async def test_refusal_comes_before_ccxt_is_imported(args: list[str], tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHECK_IMPORTS,
        *args,
        env=no_redis_env(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(120):
        out, err = await proc.communicate()
    assert out.decode().split() == ["exit", "2", "ccxt", "not", "imported"], err.decode()
