"""The e2e bench's cost targets can fail: figures past a limit say "NOT met", an unmeasured one
says so, and both ratios count every rate of the run; ccxt's frame CPU is read from the
producer's ``/metrics`` page."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from prometheus_client import CollectorRegistry, generate_latest  # noqa: E402

from e2e_figures import Spread, StepFigures  # noqa: E402
from e2e_parse import FrameCpu, frame_cpu  # noqa: E402
from e2e_targets import bus_per_fact, cpu_over_parse  # noqa: E402
from fullon_account_service.metrics.prometheus import PrometheusSensor  # noqa: E402

LOAD = (3.0, 2.5, 2.0)


def _figures(events: int, repeats: int, producer_cpu_s: float = 0.0, parse_cpu_s: float = 0.0) -> StepFigures:
    none = Spread.of([])
    return StepFigures(
        10, 10.0, events, events, events, repeats, 10.0, *[none] * 6, {}, 1.0, producer_cpu_s, parse_cpu_s
    )


def test_bus_events_per_fact_over_all_rates() -> None:
    met = bus_per_fact([_figures(100, 0), _figures(110, 10)])
    assert met.value == 210 / 200 and met.met is True and ": met" in met.line()
    missed = bus_per_fact([_figures(100, 0), _figures(200, 100)])
    assert missed.value == 1.5 and missed.met is False and "NOT met" in missed.line()
    assert bus_per_fact([]).met is None


def test_producer_cpu_over_ccxt_parse_is_cpu_time_over_all_rates_and_can_fail() -> None:
    assert (
        cpu_over_parse([_figures(10, 0)], LOAD)
        .line()
        .endswith("not measured (no frame CPU read from the producer)")
    )
    met = cpu_over_parse([_figures(10, 0, 3.0, 2.0), _figures(10, 0, 5.0, 2.0)], LOAD)
    assert met.value == 2.0 and met.met is True
    assert "producer 8.00 s, ccxt 4.00 s, load average 3.00 2.50 2.00" in met.line()
    missed = cpu_over_parse([_figures(10, 0, 6.25, 1.0)], LOAD, "py-spy x2.76 over 4,938 busy samples")
    assert missed.met is False and "x6.25" in missed.line() and "NOT met" in missed.line()
    assert missed.line().endswith("; py-spy x2.76 over 4,938 busy samples)")


def test_frame_cpu_is_read_from_the_producers_metrics_page() -> None:
    registry = CollectorRegistry()
    page = generate_latest(registry).decode()
    assert frame_cpu(page) == FrameCpu(), "no frame yet"
    sensor = PrometheusSensor(registry)
    sensor.on_ws_frame("kraken", 0.25, 1)
    sensor.on_ws_frame("bybit", 0.5, 1)
    sensor.on_ws_frame("bybit", 0.125, 2)
    before = frame_cpu(generate_latest(registry).decode())
    assert before == FrameCpu(4, 1.0), "a sampled frame stands for its weight"
    sensor.on_ws_frame("kraken", 0.5, 1)
    assert frame_cpu(generate_latest(registry).decode()) - before == FrameCpu(1, 0.5)


def test_rest_calls_waits_and_reconnects_are_read_per_step() -> None:
    registry = CollectorRegistry()
    sensor = PrometheusSensor(registry)
    sensor.on_rest_call("kraken", "fetch_my_trades")
    before = frame_cpu(generate_latest(registry).decode())
    for venue in ("kraken", "bybit"):
        sensor.on_rest_call(venue, "fetch_my_trades")
    sensor.on_rest_call("bybit", "fetch_open_orders")
    sensor.on_backpressure("events")
    sensor.on_reconnect("kraken")
    sensor.on_dead_letter("ws")
    step = frame_cpu(generate_latest(registry).decode()) - before
    assert step.rest_calls == {"fetch_my_trades": 2, "fetch_open_orders": 1}
    assert (step.waits, step.reconnects, step.dead_letters) == (1, 1, 1)
    assert step.activity() == (
        "REST fetch_my_trades=2 fetch_open_orders=1; outbox waits 1; WS reconnects 1; dead letters 1"
    )
