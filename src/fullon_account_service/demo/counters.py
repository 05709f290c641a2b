"""What the sinks stored, counted as it happens: totals per kind, a rate, each account's last event.

The counter wraps the sink handlers (``run_sink(wrap=...)``), so it counts what was stored and
acknowledged, not what was merely read: a batch that failed and comes back counts once it is in.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence

from fullon_account_service.bus.consumer import Delivery, Handler
from fullon_account_service.contract import KINDS


class EventCounter:
    def __init__(
        self,
        *,
        window_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.by_kind: dict[str, int] = dict.fromkeys(KINDS, 0)
        self.last_event_at: dict[int, float] = {}
        """Wall time (epoch s) the sinks last stored an event of each ex_id."""
        self._window_s = window_s
        self._clock = clock
        self._wall = wall
        self._recent: deque[tuple[float, int]] = deque()
        self._started = clock()

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())

    def wrap(self, handler: Handler) -> Handler:
        async def counted(deliveries: Sequence[Delivery]) -> None:
            await handler(deliveries)
            self.record(deliveries)

        return counted

    def record(self, deliveries: Sequence[Delivery]) -> None:
        if not deliveries:
            return
        now = self._wall()
        for delivery in deliveries:
            envelope = delivery.envelope
            self.by_kind[envelope.kind] = self.by_kind.get(envelope.kind, 0) + 1
            self.last_event_at[envelope.ex_id] = now
        self._recent.append((self._clock(), len(deliveries)))

    def rate(self) -> float:
        """Events stored per second over the last ``window_s`` seconds."""
        now = self._clock()
        while self._recent and self._recent[0][0] < now - self._window_s:
            self._recent.popleft()
        span = min(self._window_s, max(now - self._started, 1.0))
        return sum(count for _, count in self._recent) / span
