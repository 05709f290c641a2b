"""Event ids of history rows already on the bus (fills, ledger entries), so a re-read of the
overlap does not send them again.

A stream and a REST read may hold the same row at once: ``publish`` claims the ids before it
awaits the bus, so the second reader finds them taken, and gives them back if the publish fails
(the next read sends them then).

An audit re-reads every row since the history's cursor, which only REST reads move: on a busy
account, every row the stream sent since the previous audit (thousands at saturation). So the ids
are kept twice. The recent ones whatever their time (``limit`` of them, keyed by the ids' 64-bit
hashes: 125 bytes an id against 160 with the id strings kept, at 500 ids): a row the stream and
REST stamp at different times is still recognised. And every id sent, as its 64-bit hash, under the slice of
exchange time (``SLICE_MS``) the row is stamped in: a re-read row is a repeat when its hash is in
its slice (up to a 64-bit hash collision, ~1e-19 per pair), however a read pages or splits the
rows (Bybit reads each category apart; a page boundary falls inside a slice). Eight bytes an id,
bounded by time (``forget_before``: rows older than where the next re-read starts cannot be read
again) and in count (``MAX_HASHES``, the oldest slices first): a busy account costs at most
``MAX_HASHES`` x 8 bytes. Forgetting only ever lets a repeat through (the same event id, which the
sinks drop), never keeps a row off the bus.
"""

from __future__ import annotations

from array import array
from collections.abc import Awaitable, Callable, Iterable

from fullon_account_service.contract import Envelope

SLICE_MS = 1_000
"""Exchange-time slice of one array of hashes: a lookup scans the ids of one second."""
MAX_HASHES = 20_000
"""Hashes kept at most per history of an account (160 KB): an audit's reach at ~250 rows a second
(a minute since the previous audit plus the overlap)."""


def _slice(envelope: Envelope) -> int:
    return (envelope.exchange_ms or 0) // SLICE_MS


class PublishedIds:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._at: dict[int, int] = {}
        """Hash of each recent id -> its row's exchange time, oldest first."""
        self._hashes: dict[int, array[int]] = {}
        """Slice -> the hashes of the ids sent in it (ids on the bus only)."""
        self._count = 0

    def __contains__(self, event_id: object) -> bool:
        return hash(event_id) in self._at

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
            self._give_back(fresh)
            raise
        return fresh

    def fresh(self, envelopes: Iterable[Envelope]) -> list[Envelope]:
        """The envelopes not published yet (one of each id)."""
        unique: dict[str, Envelope] = {}
        for e in envelopes:
            unique.setdefault(e.event_id, e)
        return [e for e in unique.values() if hash(e.event_id) not in self._at and not self._hashed(e)]

    def remember(self, envelopes: Iterable[Envelope]) -> None:
        for e in envelopes:
            id_hash = hash(e.event_id)
            self._at[id_hash] = e.exchange_ms or 0
            key = _slice(e)
            hashes = self._hashes.get(key)
            if hashes is None:
                hashes = self._hashes[key] = array("q")
            hashes.append(id_hash)
            self._count += 1
        while len(self._at) > self.limit:
            self._at.pop(next(iter(self._at)))
        while self._count > MAX_HASHES:
            self._count -= len(self._hashes.pop(next(iter(self._hashes))))

    def forget_all(self) -> None:
        """Nothing is known to be on the bus any more (a Redis that may have lost writes)."""
        self._at.clear()
        self._hashes.clear()
        self._count = 0

    def forget_before(self, time_ms: int) -> None:
        # a new dict, not deletions: a dict keeps the table its largest size needed, ~9 KiB per
        # history after a burst, held at rest with a handful of ids in it (bench/RESULTS.md
        # "h3, stop 26")
        self._at = {i: at for i, at in self._at.items() if at >= time_ms}
        first = time_ms // SLICE_MS
        for old in [s for s in self._hashes if s < first]:
            self._count -= len(self._hashes.pop(old))

    def _hashed(self, envelope: Envelope) -> bool:
        hashes = self._hashes.get(_slice(envelope))
        return hashes is not None and hash(envelope.event_id) in hashes

    def _give_back(self, envelopes: Iterable[Envelope]) -> None:
        """Envelopes whose publish failed: no longer known to be on the bus."""
        for e in envelopes:
            id_hash = hash(e.event_id)
            self._at.pop(id_hash, None)
            hashes = self._hashes.get(_slice(e))
            if hashes is not None and id_hash in hashes:
                hashes.remove(id_hash)
                self._count -= 1
