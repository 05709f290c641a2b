"""py-spy on the pipeline's processes during the run, and the producer's cost against ccxt's own.

``py-spy record --format raw`` writes one line per distinct stack, frames separated by ``;`` and
the sample count last. py-spy is not a project dependency: it runs through ``uvx`` (needs ptrace
on the target, i.e. root or ``kernel.yama.ptrace_scope=0``). Idle threads are not sampled, so
samples are proportional to CPU time, and the share of the producer's samples inside ccxt's
``handle_message`` (its parsing of a frame into orders, trades, balances and positions) is ccxt's
part of the producer's cost per message: the producer's cost per message over ccxt's is
``1 / share``. On a loaded machine that share moves with the load (a thread preempted inside a
system call is sampled as busy), so the target is judged in CPU time (``e2e_parse``) and this
ratio is printed beside it.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from e2e_stack import Proc

PY_SPY = ("uvx", "py-spy", "record", "--format", "raw", "--rate", "100", "--nonblocking")
CCXT_PARSE = "handle_message"
IDLE = ("select (selectors.py", "Runner.run (asyncio/runners.py")
"""The event loop waiting for sockets: with ``--nonblocking`` py-spy cannot always tell a thread is
idle, so samples with one of these innermost frames are left out of every share. The second is
uvloop's (``cli.event_loop``): its loop is C, so py-spy sees its wait and its own work (socket
reads and writes, timers) alike as the Python frame that started it; both are left out, and the
profile's ratio then leaves out the loop's own CPU (a lower bound). The CPU-time ratio counts it."""


async def start_profiles(procs: dict[str, Proc], directory: Path) -> list[asyncio.subprocess.Process]:
    return [
        await asyncio.create_subprocess_exec(
            *PY_SPY,
            "-o",
            str(directory / f"{name}.txt"),
            "-p",
            str(proc.pid),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for name, proc in procs.items()
    ]


async def stop_profiles(spies: list[asyncio.subprocess.Process]) -> None:
    """SIGINT makes py-spy write what it sampled."""
    for spy in spies:
        if spy.returncode is None:
            spy.send_signal(signal.SIGINT)
    for spy in spies:
        try:
            async with asyncio.timeout(60):
                await spy.wait()
        except TimeoutError:
            spy.kill()
            await spy.wait()


def stacks(path: Path) -> list[tuple[list[str], int]]:
    """(frames, samples) per distinct busy stack of a raw profile."""
    out = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if count.isdigit() and not any(idle in frames[-1] for idle in IDLE):
            out.append((frames, int(count)))
    return out


def samples(path: Path) -> tuple[int, int]:
    """(busy samples, samples with ccxt's ``handle_message`` on the stack) of a raw profile."""
    busy = stacks(path)
    inside = sum(n for frames, n in busy if any(CCXT_PARSE in f and "ccxt" in f for f in frames))
    return sum(n for _, n in busy), inside


def top_frames(path: Path, n: int = 10) -> list[tuple[str, float]]:
    """The functions running when sampled (self time, the innermost frame), as shares of busy."""
    by_frame: dict[str, int] = {}
    busy = stacks(path)
    for frames, count in busy:
        by_frame[frames[-1]] = by_frame.get(frames[-1], 0) + count
    total = max(1, sum(n for _, n in busy))
    ranked = sorted(by_frame.items(), key=lambda kv: -kv[1])[:n]
    return [(frame, count / total) for frame, count in ranked]


def profile_ratio(directory: Path) -> str:
    """py-spy's producer cost per message over ccxt's parse cost, as a note ("" without one)."""
    path = directory / "producer.txt"
    busy, inside = samples(path) if path.exists() else (0, 0)
    if not inside:
        return ""
    return f"py-spy x{busy / inside:.2f} over {busy:,} busy samples"


def report_profiles(directory: Path, names: list[str]) -> None:
    for name in names:
        path = directory / f"{name}.txt"
        if not path.exists():
            print(f"profile {name}: none written (py-spy needs ptrace on the process)")
            continue
        total, inside = samples(path)
        print(f"profile {name}: {total:,} busy samples, {path}")
        if name == "producer" and inside:
            share = inside / total
            print(
                f"  ccxt {CCXT_PARSE}: {100 * share:.0f} % of the producer's CPU;"
                f" producer cost per message / ccxt's parse cost: x{1 / share:.2f}"
            )
        for frame, part in top_frames(path):
            print(f"  {100 * part:5.1f} %  {frame}")
