"""The e2e bench's cost targets can fail: figures past a limit say "NOT met", an unmeasured one
says so, and the bus ratio counts every rate of the run."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from e2e_figures import Spread, StepFigures  # noqa: E402
from e2e_targets import bus_per_fact, cpu_over_parse  # noqa: E402

LOAD = (3.0, 2.5, 2.0)


def _figures(events: int, repeats: int) -> StepFigures:
    none = Spread.of([])
    return StepFigures(10, 10.0, events, events, events, repeats, 10.0, *[none] * 6, {}, 1.0)


def test_bus_events_per_fact_over_all_rates() -> None:
    met = bus_per_fact([_figures(100, 0), _figures(110, 10)])
    assert met.value == 210 / 200 and met.met is True and ": met" in met.line()
    missed = bus_per_fact([_figures(100, 0), _figures(200, 100)])
    assert missed.value == 1.5 and missed.met is False and "NOT met" in missed.line()
    assert bus_per_fact([]).met is None


def test_producer_cpu_over_ccxt_parse_needs_a_profile_and_can_fail() -> None:
    assert cpu_over_parse(0, 0, LOAD).line().endswith("not measured (run with --profile)")
    met = cpu_over_parse(100, 60, LOAD)
    assert met.met is True and "load average 3.00 2.50 2.00" in met.line()
    missed = cpu_over_parse(100, 16, LOAD)
    assert missed.met is False and "x6.25" in missed.line() and "NOT met" in missed.line()
    assert cpu_over_parse(100, 0, LOAD).met is False
