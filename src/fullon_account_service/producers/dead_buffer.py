"""The producer's dead letters on their way to Redis: bounded, and nothing dropped.

Writers that can wait (``add``) wait while ``max_dead`` letters are queued; the bad-frame path,
called from inside ccxt's reader, cannot wait (``add_nowait``): its letter is kept past the bound
and the overflow counted, as is an event Redis refuses on its own (``unpublishable``). The
outbox's flusher sends them (``flush``) before each batch of events.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence

import redis.asyncio as aioredis

from fullon_account_service.bus.deadletter import dead_letter
from fullon_account_service.contract import Envelope, encode
from fullon_account_service.logs import get_logger
from fullon_account_service.metrics.sensor import Sensor
from fullon_account_service.producers.normalise import DeadPayload
from fullon_account_service.redaction import redact_text

_log = get_logger("producers.outbox")
DEAD_LETTERS = "dead_letters"


class DeadLetterBuffer:
    def __init__(
        self, redis: aioredis.Redis, *, prefix: str, sensor: Sensor, max_dead: int, wake: asyncio.Event
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._sensor = sensor
        self._max = max_dead
        self._wake = wake
        """The flusher's: set whenever a letter is queued."""
        self._letters: deque[DeadPayload] = deque()
        self._space = asyncio.Event()
        self._space.set()
        self._overflowing = False

    def __len__(self) -> int:
        return len(self._letters)

    async def add(self, letters: Sequence[DeadPayload]) -> None:
        """Queue ``letters``, waiting while the buffer is full."""
        for letter in letters:
            if len(self._letters) >= self._max:
                self._sensor.on_backpressure(DEAD_LETTERS)
                self._sensor.on_buffer_depth(DEAD_LETTERS, len(self._letters))
                while len(self._letters) >= self._max:
                    self._wake.set()
                    self._space.clear()
                    await self._space.wait()
            self._letters.append(letter)
        if letters:
            self._wake.set()

    def add_nowait(self, letter: DeadPayload) -> None:
        """Queue a letter from code that cannot wait; past the bound it is kept and counted."""
        if len(self._letters) >= self._max:
            self._sensor.on_buffer_overflow(DEAD_LETTERS)
            if not self._overflowing:
                self._overflowing = True
                _log.warning("dead-letter buffer over its bound; kept in memory", pending=len(self._letters))
        self.keep(letter)

    def keep(self, letter: DeadPayload) -> None:
        """Queue a letter the outbox made itself (an event Redis refuses), past any bound."""
        self._letters.append(letter)
        self._wake.set()

    def unpublishable(self, envelope: Envelope, error: Exception) -> None:
        """Keep an event Redis refuses on its own (its bytes, so it can be replayed), with the reason."""
        reason = redact_text(
            f"event not publishable: {envelope.kind} ex_id={envelope.ex_id} {envelope.exchange}:"
            f" {type(error).__name__}: {error}"
        )[:500]
        try:
            payload = encode(envelope)
        except Exception:
            payload = redact_text(repr(envelope)).encode()[: 16 * 1024]
        self.keep(DeadPayload(reason=reason, payload=payload))
        _log.error(
            "event not publishable; dead-lettered",
            ex_id=envelope.ex_id,
            kind=envelope.kind,
            error=redact_text(repr(error))[:300],
        )

    async def flush(self) -> None:
        """Send every letter, oldest first; one that fails stays first for the next try."""
        while self._letters:
            item = self._letters[0]
            await dead_letter(self._redis, prefix=self._prefix, reason=item.reason, payload=item.payload)
            self._letters.popleft()
            self._space.set()
            self._sensor.on_dead_letter("producer")
        self._overflowing = False
