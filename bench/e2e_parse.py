"""ccxt's own parse cost, read from the producer while it runs: the denominator of its CPU target.

The producer times ccxt's handling of the WebSocket frames it reads (decoding the text and
parsing it into ccxt's caches) in the reading thread's CPU time, for a random one frame in
``ws_guard.FRAME_SAMPLE`` (``on_ws_frame``), and exposes the estimated totals on its ``/metrics``
endpoint. The bench starts it with ``ACCOUNT_METRICS_PORT`` on a free loopback port and reads the
counters before and after each rate step, so both sides of the ratio are CPU time of the same
process over the same frames: the producer's utime + stime (``/proc``) over ccxt's share.
Neither grows while a thread waits for a core, which a profiler's busy samples and the wall
clock do on a loaded machine.
"""

from __future__ import annotations

import socket
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

FRAME_CPU = "fullon_account_ws_frame_cpu_seconds"
FRAMES = "fullon_account_ws_frames"
REST_CALLS = "fullon_account_rest_calls"
BACKPRESSURE = "fullon_account_producer_backpressure"
RECONNECTS = "fullon_account_ws_reconnects"
DEAD_LETTERS = "fullon_account_dead_letters"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class FrameCpu:
    """Totals since the producer started: frames ccxt handled and the CPU seconds it took."""

    frames: int = 0
    cpu_s: float = 0.0
    rest_calls: Counter[str] = field(default_factory=Counter)
    """REST requests per ccxt method (every venue): what the poller read."""
    waits: int = 0
    """Times a collector or the poller waited on the producer's full outbox."""
    reconnects: int = 0
    """WebSocket streams that failed and were opened again (each asks for a reconciliation)."""
    dead_letters: int = 0
    """Frames and messages dead-lettered (each asks for a reconciliation)."""

    def __sub__(self, earlier: FrameCpu) -> FrameCpu:
        return FrameCpu(
            self.frames - earlier.frames,
            self.cpu_s - earlier.cpu_s,
            self.rest_calls - earlier.rest_calls,
            self.waits - earlier.waits,
            self.reconnects - earlier.reconnects,
            self.dead_letters - earlier.dead_letters,
        )

    def activity(self) -> str:
        """The REST calls by method and what asks for reads (outbox waits, reconnects, dead
        letters), for a rate's note line."""
        calls = " ".join(f"{method}={n}" for method, n in sorted(self.rest_calls.items()))
        asks = f"outbox waits {self.waits}; WS reconnects {self.reconnects}; dead letters {self.dead_letters}"
        return f"REST {calls or 'none'}; {asks}"


def frame_cpu(text: str) -> FrameCpu:
    """The totals over every venue in a ``/metrics`` page (zero before the first frame)."""
    frames, cpu_s, waits, reconnects, dead = 0.0, 0.0, 0.0, 0.0, 0.0
    calls: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == f"{FRAMES}_total":
                frames += sample.value
            elif sample.name == f"{FRAME_CPU}_total":
                cpu_s += sample.value
            elif sample.name == f"{REST_CALLS}_total":
                calls[sample.labels["method"]] += round(sample.value)
            elif sample.name == f"{BACKPRESSURE}_total":
                waits += sample.value
            elif sample.name == f"{RECONNECTS}_total":
                reconnects += sample.value
            elif sample.name == f"{DEAD_LETTERS}_total":
                dead += sample.value
    return FrameCpu(round(frames), cpu_s, calls, round(waits), round(reconnects), round(dead))


async def read_frame_cpu(http: aiohttp.ClientSession, port: int) -> FrameCpu:
    async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
        response.raise_for_status()
        return frame_cpu(await response.text())
