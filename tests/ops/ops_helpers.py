"""Running the ``fullon-account`` command line from tests."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from typer.testing import CliRunner, Result

from fullon_account_service.cli.app import app

PREFIX = "test:account:"


def invoke(args: Sequence[str], env: Mapping[str, str]) -> Result:
    """In-process, like a shell would run it (the command runs its own event loop)."""
    return CliRunner().invoke(app, list(args), env=dict(env))


async def invoke_async(args: Sequence[str], env: Mapping[str, str]) -> Result:
    """From inside a running loop: the command's own ``asyncio.run`` needs a thread of its own."""
    return await asyncio.to_thread(invoke, args, env)


PROCESS_DEADLINE_S = 300.0
"""How long a test waits for a subprocess of ours to start, say something or exit. A deadline
reached only when something is wrong: on a loaded 2-core machine starting Python, importing ccxt
and migrating a database alone took over 60 s (a full suite with two CPU hogs beside it)."""


async def run_cli(
    args: Sequence[str],
    env: Mapping[str, str],
    timeout_s: float = PROCESS_DEADLINE_S,
    cwd: Path | None = None,
) -> tuple[int, str, str]:
    """In a separate process, through the installed entry point; (exit code, stdout, stderr).

    ``env`` is laid over this process's environment; ``cwd``: where it runs (else here)."""
    script = Path(sys.executable).with_name("fullon-account")
    proc = await asyncio.create_subprocess_exec(
        str(script),
        *args,
        env={**os.environ, **env},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(timeout_s):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
