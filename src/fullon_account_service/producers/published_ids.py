"""Event ids of history rows already on the bus (fills, ledger entries), so a re-read of the
overlap does not send them again.

A stream and a REST read may hold the same row at once: ``publish`` claims the ids before it
awaits the bus, so the second reader finds them taken, and gives them back if the publish fails
(the next read sends them then).

An audit re-reads every row since the history's cursor, which only REST reads move: on a busy
account, every row the stream sent since the previous audit (thousands at saturation), paged and
split its own way (Bybit reads each category apart, newest first). So every id sent is kept, as
its 64-bit hash, at least until the cursor is past its row's exchange time (``forget_before``:
rows older than where the next re-read starts cannot be read again), and a re-read row is a
repeat when its hash is known (up to a 64-bit hash collision, ~1e-19 per pair), whatever time
each reader stamped it with. The hashes sit in chunks of ``CHUNK`` in the order sent, each a
sorted array (8 bytes an id, searched with ``bisect``) with the newest exchange time among its
rows: the count bound (``MAX_HASHES``) drops the oldest chunk, and forgetting by time drops each
chunk once the cursor is past its newest row, so the chunk the cursor falls in is kept whole (at
most ``CHUNK`` ids more than needed, until the next re-read moves the cursor past it). While
audits lag, the cursor does not move and every id sent since is kept: 8 bytes each, one array
object per ``CHUNK`` of them (one array per second of exchange time, the earlier layout, cost
~80 bytes a second of history on a quiet account; a dict of ids ~100 bytes an id). Keeping
longer or forgetting only ever changes whether a repeat is let through (the same event id, which
the sinks drop), never keeps a row off the bus.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, insort
from collections.abc import Awaitable, Callable, Iterable

from fullon_account_service.contract import Envelope

CHUNK = 2_048
"""Ids per chunk: a lookup searches each chunk (a binary search each, ten at the count bound)."""
MAX_HASHES = 20_000
"""Ids kept at most per history of an account (160 KB): an audit's reach at ~250 rows a second
(a minute since the previous audit plus the overlap)."""


class _Chunk:
    __slots__ = ("hashes", "newest_ms")

    def __init__(self) -> None:
        self.hashes: array[int] = array("q")
        """Sorted."""
        self.newest_ms = 0

    def find(self, id_hash: int) -> int:
        """Index of ``id_hash``, -1 if absent."""
        at = bisect_left(self.hashes, id_hash)
        return at if at < len(self.hashes) and self.hashes[at] == id_hash else -1


class PublishedIds:
    def __init__(self) -> None:
        self._chunks: list[_Chunk] = []
        """The hashes of the ids sent, the oldest sent first."""

    def __contains__(self, event_id: object) -> bool:
        return self._known(hash(event_id))

    def __len__(self) -> int:
        return sum(len(chunk.hashes) for chunk in self._chunks)

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
            self._give_back(fresh)
            raise
        return fresh

    def fresh(self, envelopes: Iterable[Envelope]) -> list[Envelope]:
        """The envelopes not published yet (one of each id)."""
        unique: dict[str, Envelope] = {}
        for e in envelopes:
            unique.setdefault(e.event_id, e)
        return [e for e in unique.values() if not self._known(hash(e.event_id))]

    def remember(self, envelopes: Iterable[Envelope]) -> None:
        for e in envelopes:
            if not self._chunks or len(self._chunks[-1].hashes) >= CHUNK:
                self._chunks.append(_Chunk())
            chunk = self._chunks[-1]
            insort(chunk.hashes, hash(e.event_id))
            chunk.newest_ms = max(chunk.newest_ms, e.exchange_ms or 0)
        while len(self) > MAX_HASHES:
            del self._chunks[0]

    def forget_all(self) -> None:
        """Nothing is known to be on the bus any more (a Redis that may have lost writes)."""
        self._chunks.clear()

    def forget_before(self, time_ms: int) -> None:
        """Rows older than ``time_ms`` will not be read again."""
        self._chunks = [chunk for chunk in self._chunks if chunk.newest_ms >= time_ms]

    def _known(self, id_hash: int) -> bool:
        return any(chunk.find(id_hash) >= 0 for chunk in self._chunks)

    def _give_back(self, envelopes: Iterable[Envelope]) -> None:
        """Envelopes whose publish failed: no longer known to be on the bus."""
        for e in envelopes:
            id_hash = hash(e.event_id)
            for chunk in reversed(self._chunks):
                at = chunk.find(id_hash)
                if at >= 0:
                    del chunk.hashes[at]
                    break
        self._chunks = [chunk for chunk in self._chunks if chunk.hashes]
