"""Event ids of history rows already on the bus (fills, ledger entries), so a re-read of the
overlap does not send them again.

A stream and a REST read may hold the same row at once: ``publish`` claims the ids before it
awaits the bus, so the second reader finds them taken, and gives them back if the publish fails
(the next read sends them then).

Bounded twice: by count (``limit``; past it a re-read may send a row again, with the same event
id, which the sinks drop), and by time (``forget_before``: rows older than where the next re-read
starts cannot be read again). A busy account costs no more memory than a quiet one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from fullon_account_service.contract import Envelope


class PublishedIds:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._at: dict[str, int] = {}

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._at

    def __len__(self) -> int:
        return len(self._at)

    async def publish(
        self,
        envelopes: Iterable[Envelope],
        send: Callable[[list[Envelope]], Awaitable[None]],
    ) -> list[Envelope]:
        """Send (``send``) the envelopes not published yet; those it sent."""
        fresh = self.fresh(envelopes)
        self.remember(fresh)
        try:
            await send(fresh)
        except BaseException:
            for e in fresh:
                self._at.pop(e.event_id, None)
            raise
        return fresh

    def fresh(self, envelopes: Iterable[Envelope]) -> list[Envelope]:
        """The envelopes not published yet (one of each id)."""
        seen: set[str] = set()
        out = []
        for e in envelopes:
            if e.event_id not in self._at and e.event_id not in seen:
                seen.add(e.event_id)
                out.append(e)
        return out

    def remember(self, envelopes: Iterable[Envelope]) -> None:
        for e in envelopes:
            self._at[e.event_id] = e.exchange_ms or 0
        while len(self._at) > self.limit:
            self._at.pop(next(iter(self._at)))

    def clear(self) -> None:
        """Forget every id (the bus may have lost them: a restarted Redis)."""
        self._at.clear()

    def forget_before(self, time_ms: int) -> None:
        for event_id in [i for i, at in self._at.items() if at < time_ms]:
            del self._at[event_id]
