"""The producer's two cost targets (issue 18 item 5), judged from one ``e2e.py`` run.

- Bus events per venue event: every event on the bus over the distinct facts among them (an event
  repeating its order's, account's or symbol set's last state is no new fact), over all rates of
  the run; target at most ``BUS_PER_FACT_MAX``.
- The producer's CPU per private message over ccxt's own parse cost, both in CPU time of the
  producer process over the same frames, summed over all rates of the run: its utime + stime
  over the reading thread's CPU time inside ccxt's handling of its WebSocket frames
  (``e2e_parse``); target at most ``CPU_OVER_PARSE_MAX``. CPU time does not count a thread
  waiting for a core, so the ratio holds on a loaded machine where py-spy's busy samples do not
  (a thread preempted in a system call is sampled as busy); the profile's ratio (``--profile``)
  is printed beside it for where the rest goes, with the load average.
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


def cpu_over_parse(results: Sequence[StepFigures], load: Sequence[float], profile: str = "") -> Target:
    """``profile``: py-spy's view of the same ratio, when the run was profiled."""
    producer = sum(f.producer_cpu_s for f in results)
    parse = sum(f.parse_cpu_s for f in results)
    name = "producer CPU per message / ccxt parse (CPU time)"
    if parse <= 0:
        return Target(name, None, CPU_OVER_PARSE_MAX, "no frame CPU read from the producer")
    loads = " ".join(f"{x:.2f}" for x in load)
    note = f"producer {producer:.2f} s, ccxt {parse:.2f} s, load average {loads}"
    return Target(name, producer / parse, CPU_OVER_PARSE_MAX, f"{note}{'; ' if profile else ''}{profile}")
