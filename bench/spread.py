"""The spread of a figure over several runs: min, median and max, printed as ``median (min-max)``."""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence

RUNS = 3


def runs_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=RUNS, help=f"runs to take the spread of (default {RUNS})")


def spread(values: Sequence[float], fmt: str = ",.0f") -> str:
    """``median (min-max)``, or the one value when there is one run."""
    if len(values) == 1:
        return format(values[0], fmt)
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{mid:{fmt}} ({low:{fmt}}-{high:{fmt}})"
