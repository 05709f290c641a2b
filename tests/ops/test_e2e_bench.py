"""``bench/e2e.py --quick`` runs to its table, so the end-to-end benchmark cannot rot unnoticed.

It asserts nothing about speed (the machine may be busy): only that every process started, events
went from the simulator through the producer, the bus and both sinks into storage, and the figures
were printed. It runs on a private ``redis-server`` on a free loopback port and a SQLite file
whatever the backend variables say (the benchmark's own processes need a Redis they can all reach,
and fakeredis's TCP server is too slow for it), so it runs once: the CI's real-backend pass leaves
``once`` tests out.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from private_servers import free_port, redis_argv, wait_until

BENCH = Path(__file__).resolve().parents[2] / "bench" / "e2e.py"
RUN_S = 1_200.0
REDIS_START_S = 30.0


@pytest.fixture
def bench_redis_url(tmp_path: Path) -> Iterator[str]:
    """A private ``redis-server`` on a free loopback port, stopped at the end."""
    assert shutil.which("redis-server") is not None, "this test needs redis-server on PATH"
    port = free_port()
    server = subprocess.Popen(redis_argv(port, tmp_path), start_new_session=True)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        wait_until("the benchmark's redis-server answering", client.ping, REDIS_START_S)
        client.close()
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.once
async def test_e2e_bench_quick_prints_its_table(bench_redis_url: str, tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(BENCH),
        "--quick",
        "--redis-url",
        bench_redis_url,
        "--database-url",
        database_url,
        env={
            **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")},
            "ACCOUNT_DATA_DIR": str(tmp_path / "data"),
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(RUN_S):
            out, _ = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("steps/s"))
    cells = lines[header + 1].split()
    assert cells[0] == "5", text
    offered, stored = (float(c.replace(",", "")) for c in cells[1:3])
    assert offered > 0 and stored > 0, text
    assert any(line.startswith("baseline (") for line in lines), text
    activity = [line.strip() for line in lines if line.strip().startswith("producer: REST ")]
    assert activity and "repeats by kind/source: " in activity[0], text
    assert any(line.startswith("target bus events per distinct fact: x") for line in lines), text
    # Without --profile the ratio is still read in CPU time from the producer's own metrics.
    cpu_target = "target producer CPU per message / ccxt parse (CPU time): x"
    assert any(line.startswith(cpu_target) for line in lines), text
