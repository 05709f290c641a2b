"""The producer's two cost targets (issue 18 item 5), judged from one ``e2e.py`` run.

- Bus events per venue event: every event on the bus over the distinct facts among them (an event
  repeating its order's, account's or symbol set's last state is no new fact), over all rates of
  the run; target at most ``BUS_PER_FACT_MAX``.
- The producer's CPU per private message over ccxt's own parse cost: 1 / the share of the
  producer's busy samples inside ccxt's ``handle_message`` (``e2e_profile``), so it is measured
  only with ``--profile``; target at most ``CPU_OVER_PARSE_MAX``. CPU shares on a loaded machine
  move with the load (other processes' cache misses, the producer's waits counted as busy when
  py-spy cannot tell), so the load average is printed beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from e2e_figures import StepFigures

BUS_PER_FACT_MAX = 1.2
CPU_OVER_PARSE_MAX = 2.0


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    value: float | None
    """``None``: not measured in this run."""
    limit: float
    note: str = ""

    @property
    def met(self) -> bool | None:
        return None if self.value is None else self.value <= self.limit

    def line(self) -> str:
        verdict = {None: "not measured", True: "met", False: "NOT met"}[self.met]
        value = "-" if self.value is None else f"x{self.value:.2f}"
        note = f" ({self.note})" if self.note else ""
        return f"target {self.name}: {value} (at most x{self.limit:g}): {verdict}{note}"


def bus_per_fact(results: Sequence[StepFigures]) -> Target:
    events = sum(f.events for f in results)
    distinct = events - sum(f.repeats for f in results)
    value = events / distinct if distinct else None
    return Target("bus events per distinct fact", value, BUS_PER_FACT_MAX, f"{events:,} events")


def cpu_over_parse(busy: int, inside_parse: int, load: Sequence[float]) -> Target:
    """``busy``: the producer's busy samples; ``inside_parse``: those inside ccxt's parse."""
    loads = " ".join(f"{x:.2f}" for x in load)
    if busy <= 0:
        return Target("producer CPU per message / ccxt parse", None, CPU_OVER_PARSE_MAX, "run with --profile")
    value = busy / inside_parse if inside_parse else float("inf")
    note = f"{busy:,} busy samples, load average {loads}"
    return Target("producer CPU per message / ccxt parse", value, CPU_OVER_PARSE_MAX, note)
