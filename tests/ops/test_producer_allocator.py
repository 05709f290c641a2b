"""The ``producer`` console script runs on glibc's malloc unless told not to, in its own process
only; it logs the allocator it runs on, read from the interpreter (``sys.getallocatedblocks``)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from fullon_account_service.cli.allocator import wants_malloc

UNSET = ("REDIS_URL", "CACHE_HOST", "REDIS_HOST", "PYTHONMALLOC", "ACCOUNT_PRODUCER_MALLOC")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(ACCOUNT_DATA_DIR=str(tmp_path), LOG_LEVEL="INFO", LOG_FORMAT="json", DATABASE_URL="")
    return env | extra


async def _started_on(env: dict[str, str]) -> tuple[int, dict[str, object]]:
    """Start ``fullon-account producer --embedded``, read its ``producer process`` line, stop it."""
    script = Path(sys.executable).with_name("fullon-account")
    proc = await asyncio.create_subprocess_exec(
        str(script),
        "producer",
        "--embedded",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(120):
            while not any('"producer process"' in line for line in seen):
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
    [event] = [json.loads(line) for line in seen if '"producer process"' in line]
    return proc.pid, event


async def test_the_producer_re_executes_itself_on_malloc_in_the_same_process(tmp_path: Path) -> None:
    pid, event = await _started_on(_env(tmp_path))
    assert event["allocator"] == "malloc"
    assert event["pid"] == pid  # execve, not a child: signals and supervisors see one process


@pytest.mark.parametrize(
    "extra", [{"ACCOUNT_PRODUCER_MALLOC": "false"}, {"PYTHONMALLOC": "pymalloc"}], ids=["opt-out", "operator"]
)
async def test_the_operator_keeps_pymalloc(extra: dict[str, str], tmp_path: Path) -> None:
    _, event = await _started_on(_env(tmp_path, **extra))
    assert event["allocator"] == "pymalloc"


def test_only_the_producer_command_is_re_executed() -> None:
    assert wants_malloc(["producer", "--ex-id", "1"], {})
    assert not wants_malloc(["sink", "--group", "orm"], {})
    assert not wants_malloc(["producer", "--help"], {})
    assert not wants_malloc(["producer"], {"PYTHONMALLOC": "malloc"})
    assert not wants_malloc(["producer"], {"ACCOUNT_PRODUCER_MALLOC": "no"})
    # a bad setting is the command's to report, on the allocator it has
    assert not wants_malloc(["producer"], {"ACCOUNT_HEAP_TRIM_S": "-1"})
