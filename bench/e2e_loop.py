"""Per rate, the producer's event-loop stalls and collections, as ``loop_probe`` recorded them.

``e2e.py --probe`` starts the producer with ``loop_probe`` on its path; this reads the probe's
file at the start and at the end of a rate step and says what happened in between: callbacks
of at least ``loop_probe.SLOW_MS`` (how many, the longest, the collector's time inside it) and
the collections per generation with their total and longest time. A stall delays every event
that arrives during it, so the longest stall bounds from below the worst latency of the step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from loop_probe.sitecustomize import SLOW_MS

PROBE_DIR = Path(__file__).with_name("loop_probe")


@dataclass(frozen=True)
class LoopTotals:
    """The probe's file at one moment (everything since the producer started)."""

    callbacks: int = 0
    busy_s: float = 0.0
    slow: list[tuple[float, float, float, str]] = field(default_factory=list)
    gc: dict[int, tuple[int, float]] = field(default_factory=dict)
    gc_slow: list[tuple[float, int, float]] = field(default_factory=list)


def read_loop(path: Path) -> LoopTotals:
    """The totals the probe wrote last; empty before its first write."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return LoopTotals()
    return LoopTotals(
        callbacks=raw["callbacks"],
        busy_s=raw["busy_s"],
        slow=[tuple(s) for s in raw["slow"]],  # type: ignore[misc]
        gc={int(g): (c, ms) for g, (c, ms) in raw["gc"].items()},
        gc_slow=[tuple(s) for s in raw["gc_slow"]],  # type: ignore[misc]
    )


def loop_line(before: LoopTotals, after: LoopTotals) -> str:
    """One line on what the producer's loop did between two readings."""
    stalls = after.slow[len(before.slow) :]
    gcs = {
        g: (c - before.gc.get(g, (0, 0.0))[0], ms - before.gc.get(g, (0, 0.0))[1])
        for g, (c, ms) in after.gc.items()
    }
    counts = "/".join(f"{gcs.get(g, (0, 0.0))[0]:,}" for g in range(3))
    gc_ms = sum(ms for _, ms in gcs.values())
    longest_gc = max((s for s in after.gc_slow[len(before.gc_slow) :]), key=lambda s: s[2], default=None)
    gc_part = f"GC {counts} (gen 0/1/2) {gc_ms:,.0f} ms"
    if longest_gc is not None:
        gc_part += f", longest {longest_gc[2]:,.0f} ms (gen {longest_gc[1]})"
    worst = max(stalls, key=lambda s: s[1], default=None)
    stall_part = f"{len(stalls)} callbacks >= {SLOW_MS:g} ms"
    if worst is not None:
        stall_part += f", longest {worst[1]:,.0f} ms ({worst[2]:,.0f} of it GC) in {worst[3]}"
    return f"        producer loop: {stall_part}; {gc_part}"
