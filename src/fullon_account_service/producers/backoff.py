"""Exponential backoff with full jitter, so many accounts retrying do not retry in step."""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, base_s: float, max_s: float) -> None:
        self._base = base_s
        self._max = max_s
        self._attempt = 0

    def reset(self) -> None:
        self._attempt = 0

    @property
    def max_s(self) -> float:
        return self._max

    @property
    def attempts(self) -> int:
        return self._attempt

    def next(self, at_least_s: float = 0.0) -> float:
        """The next delay: base * 2^n capped, jittered in [50 %, 100 %], never below ``at_least_s``."""
        raw = min(self._base * 2.0**self._attempt, self._max)
        self._attempt += 1
        return max(raw * random.uniform(0.5, 1.0), at_least_s)
