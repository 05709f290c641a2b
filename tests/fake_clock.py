"""A clock for tests: seconds that move only when the test moves them (``clock.now += 5``)."""

from __future__ import annotations


class FakeClock:
    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now
