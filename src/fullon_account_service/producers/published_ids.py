"""Event ids of history rows already on the bus (fills, ledger entries), so a re-read of the
overlap does not send them again.

A stream and a REST read may hold the same row at once: ``publish`` claims the ids before it
awaits the bus, so the second reader finds them taken, and gives them back if the publish fails
(the next read sends them then).

The ids are bounded twice: by count (``limit``), and by time (``forget_before``: rows older than
where the next re-read starts cannot be read again). A busy account costs no more memory than a
quiet one. On an account busier than ``limit`` rows per re-read span (an audit every poll interval
reads everything since the last one), the ids alone would let most of a re-read through again
(the same event ids, which the sinks drop, but twice the bus traffic: issue 18). So each slice
of exchange time (``SLICE_MS``) also keeps a digest of the ids sent in it, which no count bound
evicts: the XOR of their hashes. A batch's rows of one slice whose digest equals the slice's are
exactly rows already sent, and are dropped whatever the id memory forgot. Any other digest (a row
the stream never sent, a slice split over two pages, a venue stamping a row at another time on
REST) decides nothing: those rows are checked by id, as before. A digest is always the XOR over
ids that are on the bus, so an equal digest never hides a row that is not (up to a 64-bit hash
collision between two sets, ~1e-19).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from fullon_account_service.contract import Envelope

SLICE_MS = 100
"""Exchange-time slice of one digest: narrow enough that a history page (50-100 rows) splits few
rows into a slice it does not read whole."""
MAX_SLICES = 1_000
"""Digests kept at most (~100 KB; the oldest go first, and a slice without one is checked by id):
a slice exists only where a row was sent, and ``forget_before`` drops those a re-read no longer
reaches."""


def _slice(envelope: Envelope) -> int:
    return (envelope.exchange_ms or 0) // SLICE_MS


class PublishedIds:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._at: dict[str, int] = {}
        self._digests: dict[int, int] = {}
        """Slice -> XOR of the hashes of the ids sent in it (ids on the bus only)."""

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
            self._fold(fresh)
            raise
        return fresh

    def fresh(self, envelopes: Iterable[Envelope]) -> list[Envelope]:
        """The envelopes not published yet (one of each id)."""
        unique: dict[str, Envelope] = {}
        for e in envelopes:
            unique.setdefault(e.event_id, e)
        sent = self._sent_slices(unique.values())
        return [e for e in unique.values() if e.event_id not in self._at and _slice(e) not in sent]

    def remember(self, envelopes: Iterable[Envelope]) -> None:
        envelopes = list(envelopes)
        for e in envelopes:
            self._at[e.event_id] = e.exchange_ms or 0
        self._fold(envelopes)
        while len(self._at) > self.limit:
            self._at.pop(next(iter(self._at)))

    def forget_all(self) -> None:
        """Nothing is known to be on the bus any more (a Redis that may have lost writes)."""
        self._at.clear()
        self._digests.clear()

    def forget_before(self, time_ms: int) -> None:
        for event_id in [i for i, at in self._at.items() if at < time_ms]:
            del self._at[event_id]
        first = time_ms // SLICE_MS
        for old in [s for s in self._digests if s < first]:
            del self._digests[old]

    def _sent_slices(self, envelopes: Iterable[Envelope]) -> set[int]:
        """Slices whose rows in ``envelopes`` (one of each id) are exactly the rows sent in them."""
        digests: dict[int, int] = {}
        for e in envelopes:
            key = _slice(e)
            digests[key] = digests.get(key, 0) ^ hash(e.event_id)
        return {key for key, digest in digests.items() if self._digests.get(key) == digest}

    def _fold(self, envelopes: Iterable[Envelope]) -> None:
        """XOR the ids into their slices' digests (again: out of them)."""
        for e in envelopes:
            key = _slice(e)
            self._digests[key] = self._digests.pop(key, 0) ^ hash(e.event_id)
        while len(self._digests) > MAX_SLICES:
            self._digests.pop(next(iter(self._digests)))
