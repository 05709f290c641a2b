"""Prometheus implementation of the sensor hooks, and the HTTP endpoint that exposes them.

Metrics are registered on a registry passed in (the default one in processes), so tests can use a
private registry and several sensors never collide. The hooks the producer calls per batch or per
frame keep their labelled children (nothing here removes a label) and set the buffer gauge only
when the depth moved: ``labels()`` takes a lock and builds a key each call, ~3 us against ~1 us
for a kept child, and the outbox calls three or four of them per batch.
"""

from __future__ import annotations

from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from fullon_account_service.metrics.sensor import Sensor

_NS = "fullon_account"


class PrometheusSensor(Sensor):
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            f"{_NS}_events_published", "Events published to the bus", ["kind", "exchange"], registry=registry
        )
        self.reconnects = Counter(
            f"{_NS}_ws_reconnects", "WebSocket reconnects", ["exchange"], registry=registry
        )
        self.rest_calls = Counter(
            f"{_NS}_rest_calls", "REST requests sent", ["exchange", "method"], registry=registry
        )
        self.rate_limited = Counter(
            f"{_NS}_rate_limited", "Rate-limit answers (429 and equivalents)", ["exchange"], registry=registry
        )
        self.dead_letters = Counter(
            f"{_NS}_dead_letters", "Entries sent to the dead-letter stream", ["origin"], registry=registry
        )
        self.batch_latency = Histogram(
            f"{_NS}_sink_batch_seconds", "Time to commit one sink batch", ["group"], registry=registry
        )
        self.sink_events = Counter(
            f"{_NS}_sink_events", "Entries committed by sinks", ["group"], registry=registry
        )
        self.lag = Gauge(
            f"{_NS}_stream_lag",
            "Entries not yet delivered to a group",
            ["stream", "group"],
            registry=registry,
        )
        self.pending = Gauge(
            f"{_NS}_stream_pending",
            "Entries delivered, not yet acknowledged",
            ["stream", "group"],
            registry=registry,
        )
        self.dead_letter_size = Gauge(
            f"{_NS}_dead_letter_size", "Length of the dead-letter stream", registry=registry
        )
        self.bad_frames = Counter(
            f"{_NS}_ws_bad_frames",
            "WebSocket frames that could not be read (dead-lettered)",
            ["exchange"],
            registry=registry,
        )
        self.ws_frames = Counter(
            f"{_NS}_ws_frames",
            "WebSocket frames read by ccxt (estimated from a random sample)",
            ["exchange"],
            registry=registry,
        )
        self.ws_frame_cpu = Counter(
            f"{_NS}_ws_frame_cpu_seconds",
            "CPU time of the reading thread inside ccxt's handling of WebSocket frames (estimated"
            " from a random sample of frames)",
            ["exchange"],
            registry=registry,
        )
        self.loop_restarts = Counter(
            f"{_NS}_ws_loop_restarts",
            "WebSocket loops restarted after an unexpected failure",
            ["exchange", "kind"],
            registry=registry,
        )
        self.buffer_depth = Gauge(
            f"{_NS}_producer_buffer_depth",
            "Entries waiting in a producer's in-memory buffer",
            ["buffer"],
            registry=registry,
        )
        self.backpressure = Counter(
            f"{_NS}_producer_backpressure",
            "Times a writer waited on a full producer buffer",
            ["buffer"],
            registry=registry,
        )
        self.unexplained = Gauge(
            f"{_NS}_balance_unexplained",
            "Largest balance change no fill, fee or ledger entry explains, per account and currency",
            ["ex_id", "currency"],
            registry=registry,
        )
        self.buffer_overflow = Counter(
            f"{_NS}_producer_buffer_overflow",
            "Entries kept past a producer buffer's bound by a writer that cannot wait",
            ["buffer"],
            registry=registry,
        )
        self._published: dict[tuple[str, str], Counter] = {}
        self._frames: dict[str, tuple[Counter, Counter]] = {}
        self._depths: dict[str, int] = {}

    def on_events_published(self, kind: str, exchange: str, count: int) -> None:
        child = self._published.get((kind, exchange))
        if child is None:
            child = self._published[(kind, exchange)] = self.events.labels(kind, exchange)
        child.inc(count)

    def on_reconnect(self, exchange: str) -> None:
        self.reconnects.labels(exchange).inc()

    def on_rest_call(self, exchange: str, method: str) -> None:
        self.rest_calls.labels(exchange, method).inc()

    def on_rate_limited(self, exchange: str) -> None:
        self.rate_limited.labels(exchange).inc()

    def on_dead_letter(self, origin: str) -> None:
        self.dead_letters.labels(origin).inc()

    def on_sink_batch(self, group: str, count: int, seconds: float) -> None:
        self.batch_latency.labels(group).observe(seconds)
        self.sink_events.labels(group).inc(count)

    def on_stream_state(self, stream: str, group: str, lag: int, pending: int) -> None:
        self.lag.labels(stream, group).set(lag)
        self.pending.labels(stream, group).set(pending)

    def on_dead_letter_size(self, size: int) -> None:
        self.dead_letter_size.set(size)

    def on_bad_frame(self, exchange: str) -> None:
        self.bad_frames.labels(exchange).inc()

    def on_ws_frame(self, exchange: str, cpu_s: float, weight: int) -> None:
        children = self._frames.get(exchange)
        if children is None:
            children = self._frames[exchange] = (
                self.ws_frames.labels(exchange),
                self.ws_frame_cpu.labels(exchange),
            )
        children[0].inc(weight)
        children[1].inc(cpu_s * weight)

    def on_ws_loop_restart(self, exchange: str, kind: str) -> None:
        self.loop_restarts.labels(exchange, kind).inc()

    def on_buffer_depth(self, buffer: str, size: int) -> None:
        if self._depths.get(buffer) != size:
            self._depths[buffer] = size
            self.buffer_depth.labels(buffer).set(size)

    def on_backpressure(self, buffer: str) -> None:
        self.backpressure.labels(buffer).inc()

    def on_balance_unexplained(self, ex_id: int, currency: str, remainder: float) -> None:
        self.unexplained.labels(str(ex_id), currency).set(remainder)

    def on_buffer_overflow(self, buffer: str) -> None:
        self.buffer_overflow.labels(buffer).inc()


def serve_metrics(port: int, registry: CollectorRegistry, addr: str = "0.0.0.0") -> WSGIServer:
    """Expose ``registry`` on ``/metrics`` from a daemon thread; all interfaces by default, for scrapers.

    Returns the server: ``shutdown()`` stops it, ``server_port`` is the port bound (``port=0`` picks one).
    """
    server, _thread = start_http_server(port, addr=addr, registry=registry)
    return server
