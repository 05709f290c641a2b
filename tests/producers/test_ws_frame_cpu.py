"""Each good WebSocket frame reports the CPU time ccxt took to handle it (the denominator of the
producer's cost target, ``bench/e2e_parse.py``); a bad frame goes to the bad-frame handler only."""

from __future__ import annotations

from typing import Any

from fullon_account_service.producers import ws_guard

URL = "wss://venue.test/private"


class _Socket:
    def __init__(self, url: str) -> None:
        self.url = url
        self.handled: list[str] = []

    def handle_message(self, message: str) -> None:
        if message == "bad":
            raise ValueError("unreadable frame")
        self.handled.append(message)


class _Venue:
    """Stands for a ccxt.pro class: ``client(url)`` gives the socket whose reader is guarded."""

    def __init__(self) -> None:
        self.sockets: dict[str, _Socket] = {}

    def client(self, url: str) -> _Socket:
        return self.sockets.setdefault(url, _Socket(url))


def test_good_frames_report_their_cpu_time_and_bad_ones_are_handed_over() -> None:
    venue: Any = ws_guard.guarded_class(_Venue)()
    costs: list[float] = []
    bad: list[tuple[str, str]] = []
    ws_guard.attach(venue, on_frame=costs.append, on_bad_frame=lambda url, e, data: bad.append((url, data)))
    socket = venue.client(URL)
    socket.handle_message("one")
    socket.handle_message("bad")
    socket.handle_message("two")
    assert socket.handled == ["one", "two"]
    assert len(costs) == 2 and all(cost >= 0.0 for cost in costs)
    assert bad == [(URL, "bad")]


def test_a_client_without_a_frame_hook_reads_as_before() -> None:
    venue: Any = ws_guard.guarded_class(_Venue)()
    ws_guard.attach(venue)
    socket = venue.client(URL)
    socket.handle_message("one")
    assert socket.handled == ["one"]
