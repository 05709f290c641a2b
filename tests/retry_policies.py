"""Retry policies tests inject: quick ones for outages, and one that counts what a loop asked."""

from __future__ import annotations

import asyncio

from redis.backoff import AbstractBackoff

from fullon_account_service.retry import RetryPolicy

QUICK = RetryPolicy.exponential(0.01, 0.05)
"""Short but not zero: a loop waiting out an outage still gives the machine back between tries."""


class CountingBackoff(AbstractBackoff):
    """Waits ``delay_s`` and counts each failure a loop reported; ``reached`` is set at ``until``."""

    def __init__(self, delay_s: float = 0.0, until: int = 1) -> None:
        self.delay_s = delay_s
        self.failures: list[int] = []
        self.until = until
        self.reached = asyncio.Event()

    def compute(self, failures: int) -> float:
        self.failures.append(failures)
        if len(self.failures) >= self.until:
            self.reached.set()
        return self.delay_s


def counting(
    delay_s: float = 0.0, *, until: int = 1, retries: int | None = None
) -> tuple[RetryPolicy, CountingBackoff]:
    backoff = CountingBackoff(delay_s, until)
    return RetryPolicy(backoff, cap_s=delay_s, retries=retries), backoff
