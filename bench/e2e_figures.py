"""The figures of one rate step of the end-to-end run, from the entries the watcher saw."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from e2e_watch import Seen

CACHE_KINDS = frozenset({"balance", "position"})
KEEP_UP_P99_MS = 1_000.0
"""Above this end-to-end p99 a rate is not kept up with, whatever the throughput says."""
KEEP_UP_SLACK = 1.1
"""A rate is kept up with when its events are all stored within 10 % (+0.5 s) of the time they
were emitted over."""


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Spread:
    p50: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(percentile(values, 0.5), percentile(values, 0.99), max(values, default=float("nan")))

    def __str__(self) -> str:
        return f"{self.p50:.0f}/{self.p99:.0f}/{self.max:.0f}"


@dataclass(frozen=True)
class StepFigures:
    steps_per_s: float
    driven_s: float
    events: int
    stored: int
    ws_events: int
    repeats: int
    busy_s: float
    cache: Spread
    sql: Spread
    emit_to_producer: Spread
    producer_to_bus: Spread
    bus_to_cache: Spread
    bus_to_sql: Spread
    cpu: dict[str, float]
    producer_cpu_ms_per_ws_event: float
    producer_cpu_s: float = 0.0
    """The producer's utime + stime over the step."""
    parse_cpu_s: float = 0.0
    """CPU seconds ccxt spent handling the producer's WebSocket frames over the step
    (``e2e_parse``); 0 when not read."""

    @property
    def cpu_over_parse(self) -> float:
        return self.producer_cpu_s / self.parse_cpu_s if self.parse_cpu_s > 0 else float("nan")

    @property
    def offered_per_s(self) -> float:
        return self.events / self.driven_s

    @property
    def sustained_per_s(self) -> float:
        return self.stored / self.busy_s if self.busy_s > 0 else 0.0

    @property
    def kept_up(self) -> bool:
        in_time = self.busy_s <= KEEP_UP_SLACK * self.driven_s + 0.5
        return self.stored == self.events and in_time and max(self.cache.p99, self.sql.p99) <= KEEP_UP_P99_MS

    @property
    def bus_per_fact(self) -> float:
        distinct = self.events - self.repeats
        return self.events / distinct if distinct else float("nan")


def step_figures(
    seen: Sequence[Seen],
    *,
    steps_per_s: float,
    started_ms: float,
    driven_s: float,
    cpu: dict[str, float],
    producer_cpu_s: float,
    parse_cpu_s: float = 0.0,
) -> StepFigures:
    """``seen``: the entries that reached the bus from the step's start until it drained."""
    stored = [s for s in seen if s.stored_ms is not None]
    ws = [s for s in stored if s.ws]
    last = max((s.stored_ms for s in stored if s.stored_ms is not None), default=started_ms)

    def total(s: Seen) -> float:
        assert s.stored_ms is not None
        return s.stored_ms - (s.exchange_ms if s.exchange_ms is not None else s.received_ms)

    def store_leg(s: Seen) -> float:
        assert s.stored_ms is not None
        return s.stored_ms - s.bus_ms

    cache = [s for s in ws if s.kind in CACHE_KINDS]
    sql = [s for s in ws if s.kind not in CACHE_KINDS]
    return StepFigures(
        steps_per_s=steps_per_s,
        driven_s=driven_s,
        events=len(seen),
        stored=len(stored),
        ws_events=sum(1 for s in seen if s.ws),
        repeats=sum(1 for s in seen if s.repeat),
        busy_s=(last - started_ms) / 1000.0,
        cache=Spread.of([total(s) for s in cache]),
        sql=Spread.of([total(s) for s in sql]),
        emit_to_producer=Spread.of([s.received_ms - s.exchange_ms for s in ws if s.exchange_ms is not None]),
        producer_to_bus=Spread.of([s.bus_ms - s.received_ms for s in ws]),
        bus_to_cache=Spread.of([store_leg(s) for s in cache]),
        bus_to_sql=Spread.of([store_leg(s) for s in sql]),
        cpu=cpu,
        producer_cpu_ms_per_ws_event=1000.0 * producer_cpu_s / max(1, sum(1 for s in seen if s.ws)),
        producer_cpu_s=producer_cpu_s,
        parse_cpu_s=parse_cpu_s,
    )


HEADER = (
    f"{'steps/s':>7} {'offered/s':>9} {'stored/s':>8} {'kept':>4}"
    f" {'cache p50/p99/max':>18} {'SQL p50/p99/max':>18}"
    f" {'emit>prod':>14} {'prod>bus':>12} {'bus>cache':>14} {'bus>SQL':>14}"
    f" {'bus/fact':>8} {'prod ms/ws':>10} {'prod/ccxt':>9}  CPU %"
)


def row(f: StepFigures) -> str:
    cpu = " ".join(f"{name}={pct:.0f}" for name, pct in f.cpu.items())
    return (
        f"{f.steps_per_s:>7g} {f.offered_per_s:>9,.0f} {f.sustained_per_s:>8,.0f}"
        f" {'yes' if f.kept_up else 'NO':>4}"
        f" {f.cache!s:>18} {f.sql!s:>18}"
        f" {f.emit_to_producer!s:>14} {f.producer_to_bus!s:>12} {f.bus_to_cache!s:>14} {f.bus_to_sql!s:>14}"
        f" {f.bus_per_fact:>8.2f} {f.producer_cpu_ms_per_ws_event:>10.3f} {f.cpu_over_parse:>9.2f}  {cpu}"
    )
