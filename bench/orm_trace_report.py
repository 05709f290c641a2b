"""Summary of an ORM sink trace (``orm_trace/sitecustomize.py``): per stage p50/p90/p99/max ms.

    uv run python bench/orm_trace_report.py /tmp/orm.jsonl [--slowest N]

``wait`` is from the oldest entry of a batch reaching the bus to the handler starting on it
(reading, the batch before being stored, preparing); ``handle`` the handler's whole call;
``other`` what the handler spent outside the timed writes (turning events into rows, opening the
session and its transaction).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

STAGES = ("orders", "trades", "trade_locks", "checkpoints", "trade_write", "ledger", "commit")


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def columns(batch: dict[str, Any]) -> dict[str, float]:
    handle = batch["end"] - batch["start"]
    out = {"size": float(batch["size"]), "wait": batch["start"] - batch["bus_min"], "handle": handle}
    out.update((stage, batch.get(stage, 0.0)) for stage in STAGES)
    out["other"] = handle - sum(batch.get(stage, 0.0) for stage in ("orders", "trades", "ledger", "commit"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trace", type=Path)
    parser.add_argument("--slowest", type=int, default=5, help="batches to list, slowest handler first")
    args = parser.parse_args()
    batches = [json.loads(line) for line in args.trace.read_text().splitlines() if line.strip()]
    rows = [columns(batch) for batch in batches]
    failed = sum(1 for batch in batches if not batch.get("ok"))
    prepared = sum(1 for batch in batches if batch["prepared"])
    print(f"{len(batches)} batches ({failed} failed, {prepared} prepared ahead)")
    print(f"{'':12}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}{'sum':>10}")
    for name in rows[0] if rows else ():
        values = [row[name] for row in rows]
        figures = "".join(f"{quantile(values, q):9.1f}" for q in (0.5, 0.9, 0.99)) + f"{max(values):9.1f}"
        print(f"{name:12}{figures}{sum(values):10.0f}")
    print("slowest handler calls (ms):")
    for row in sorted(rows, key=lambda r: r["handle"], reverse=True)[: args.slowest]:
        print("  " + ", ".join(f"{name} {value:.1f}" for name, value in row.items()))


if __name__ == "__main__":
    main()
