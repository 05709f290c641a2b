"""``bench/e2e.py --quick`` runs to its table, so the end-to-end benchmark cannot rot unnoticed.

It asserts nothing about speed (the machine may be busy): only that every process started, events
went from the simulator through the producer, the bus and both sinks into storage, and the figures
were printed.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "e2e.py"
RUN_S = 1_200.0


async def test_e2e_bench_quick_prints_its_table(
    redis_url: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    database_url = cli_env["DATABASE_URL"] or f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(BENCH),
        "--quick",
        "--redis-url",
        redis_url,
        "--database-url",
        database_url,
        env={**os.environ, "ACCOUNT_DATA_DIR": str(tmp_path / "data")},
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
