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
from dataclasses import dataclass

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

FRAME_CPU = "fullon_account_ws_frame_cpu_seconds"
FRAMES = "fullon_account_ws_frames"


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

    def __sub__(self, earlier: FrameCpu) -> FrameCpu:
        return FrameCpu(self.frames - earlier.frames, self.cpu_s - earlier.cpu_s)


def frame_cpu(text: str) -> FrameCpu:
    """The totals over every venue in a ``/metrics`` page (zero before the first frame)."""
    frames, cpu_s = 0.0, 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == f"{FRAMES}_total":
                frames += sample.value
            elif sample.name == f"{FRAME_CPU}_total":
                cpu_s += sample.value
    return FrameCpu(round(frames), cpu_s)


async def read_frame_cpu(http: aiohttp.ClientSession, port: int) -> FrameCpu:
    async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
        response.raise_for_status()
        return frame_cpu(await response.text())
