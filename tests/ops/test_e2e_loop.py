"""The e2e bench's loop probe sees a stalled event loop and a collection, and says nothing of a
loop that never stalled; it only records in the process whose environment names its file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from e2e_loop import PROBE_DIR, LoopTotals, loop_line, read_loop  # noqa: E402

SCRIPT = """
import asyncio, gc, os, time

async def stalls():
    await asyncio.sleep(0)
    time.sleep(0.06)  # a synchronous step: the loop runs nothing else meanwhile
    gc.collect()

async def main():
    await asyncio.gather(stalls(), asyncio.sleep(0.01))
    while not os.path.exists(os.environ["E2E_LOOP_PROBE"]):  # the probe's first write
        await asyncio.sleep(0.05)

asyncio.run(main())
"""


def _run(tmp_path: Path, *, probe: bool, script: str = SCRIPT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("E2E_LOOP_PROBE", "PYTHONPATH")}
    env["PYTHONPATH"] = str(PROBE_DIR)
    if probe:
        env["E2E_LOOP_PROBE"] = str(tmp_path / "loop.json")
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, timeout=120, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done


def test_a_stall_and_a_collection_are_recorded_with_the_coroutine_that_stalled(tmp_path: Path) -> None:
    _run(tmp_path, probe=True)
    totals = read_loop(tmp_path / "loop.json")
    assert totals.callbacks > 0
    [(at, took_ms, gc_ms, _)] = [s for s in totals.slow if s[3] == "stalls"]
    assert took_ms >= 60 and 0 < gc_ms <= took_ms and at > 1e9  # epoch seconds
    assert totals.gc[2][0] >= 1
    line = loop_line(LoopTotals(), totals)
    assert "callbacks >= 20 ms, longest" in line and "in stalls" in line
    assert "(gen 0/1/2)" in line


def test_without_its_variable_the_probe_changes_nothing(tmp_path: Path) -> None:
    check = "import asyncio.events as e, sitecustomize; print(e.Handle._run.__qualname__)"
    assert _run(tmp_path, probe=False, script=check).stdout.strip() == "Handle._run"
    assert "timed" in _run(tmp_path, probe=True, script=check).stdout
    assert read_loop(tmp_path / "nothing.json") == LoopTotals()


def test_a_loop_that_never_stalled_says_so() -> None:
    quiet = LoopTotals(callbacks=1_000, busy_s=0.5, gc={0: (40, 3.0), 1: (4, 1.0), 2: (0, 0.0)})
    later = LoopTotals(callbacks=2_000, busy_s=1.0, gc={0: (80, 6.0), 1: (8, 2.0), 2: (0, 0.0)})
    line = loop_line(quiet, later)
    assert "0 callbacks >= 20 ms;" in line and "longest" not in line
    assert "GC 40/4/0 (gen 0/1/2) 4 ms" in line


def test_a_probed_command_runs_on_asyncios_loop_where_its_callbacks_are_timed(tmp_path: Path) -> None:
    check = (
        "import asyncio, sitecustomize\n"
        "from fullon_account_service.cli import event_loop\n"
        "async def kind(): return type(asyncio.get_running_loop()).__module__\n"
        "print(event_loop.run(kind()))"
    )
    assert _run(tmp_path, probe=False, script=check).stdout.strip() == "uvloop"
    assert _run(tmp_path, probe=True, script=check).stdout.strip().startswith("asyncio")
