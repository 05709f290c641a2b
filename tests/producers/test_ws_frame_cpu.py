"""A random sample of good WebSocket frames reports the CPU time ccxt took to handle them (the
denominator of the producer's cost target, ``bench/e2e_parse.py``), each standing for
``FRAME_SAMPLE`` frames; a bad frame goes to the bad-frame handler only."""

from __future__ import annotations

from typing import Any

from fullon_account_service.producers import ws_guard

URL = "wss://venue.test/private"
FRAMES = 2_000


class _Socket:
    def __init__(self, url: str) -> None:
        self.url = url
        self.handled = 0

    def handle_message(self, message: str) -> None:
        if message == "bad":
            raise ValueError("unreadable frame")
        self.handled += 1

    def receive_loop(self) -> None:
        """ccxt's reader loop, which the guard wraps; these tests hand frames over directly."""

    def reject(self, result: Any, message_hash: Any = None) -> None:
        """ccxt's rejection of pending calls, which the guard wraps to wake the followers."""


class _Venue:
    """Stands for a ccxt.pro class: ``client(url)`` gives the socket whose reader is guarded."""

    def __init__(self) -> None:
        self.sockets: dict[str, _Socket] = {}

    def client(self, url: str) -> _Socket:
        return self.sockets.setdefault(url, _Socket(url))


def test_a_sample_of_good_frames_reports_cpu_time_and_bad_ones_are_handed_over() -> None:
    venue: Any = ws_guard.guarded_class(_Venue)()
    timed: list[tuple[float, int]] = []
    bad: list[tuple[str, str]] = []
    ws_guard.attach(
        venue,
        on_frame=lambda cpu_s, weight: timed.append((cpu_s, weight)),
        on_bad_frame=lambda url, e, data: bad.append((url, data)),
    )
    socket = venue.client(URL)
    for _ in range(FRAMES):
        socket.handle_message("good")
    socket.handle_message("bad")
    assert socket.handled == FRAMES
    assert bad == [(URL, "bad")]
    assert all(cpu_s >= 0.0 and weight == ws_guard.FRAME_SAMPLE for cpu_s, weight in timed)
    estimated = len(timed) * ws_guard.FRAME_SAMPLE
    assert FRAMES / 2 < estimated < FRAMES * 2, "the sample stands for about every frame (5 sd)"


def test_a_client_without_a_frame_hook_reads_as_before() -> None:
    venue: Any = ws_guard.guarded_class(_Venue)()
    ws_guard.attach(venue)
    socket = venue.client(URL)
    socket.handle_message("one")
    assert socket.handled == 1
