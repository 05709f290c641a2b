"""Which accounts a daemon collects right now, and a wait for the ones a caller names.

An account counts once its loops started without error (``AccountSet.start``) and until it is
stopped: gone from discovery, its lease lost or given up, or the daemon shut down (``close``).
One whose start failed (marked ``error``) does not count, even while the supervisor retries its
poll loop; one whose loop died still counts while the supervisor restarts it. The caller names
the accounts it waits for rather than waiting for "every account held": in a producer pool the
daemon holds none until it takes its first leases, and its share moves as producers join and
leave, so "all of what it holds" is true long before it collects what the caller expects.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


class CollectedAccounts:
    def __init__(self) -> None:
        self._ex_ids: set[int] = set()
        self._closed = False
        self._changed = asyncio.Event()

    @property
    def ex_ids(self) -> frozenset[int]:
        return frozenset(self._ex_ids)

    def add(self, ex_id: int) -> None:
        self._ex_ids.add(ex_id)
        self._wake()

    def discard(self, ex_id: int) -> None:
        self._ex_ids.discard(ex_id)
        self._wake()

    def reopen(self) -> None:
        """The daemon starts (again): waits from now on end only when it collects or closes."""
        self._closed = False

    def close(self) -> None:
        """The daemon stopped: nothing is collected, and every wait ends."""
        self._ex_ids.clear()
        self._closed = True
        self._wake()

    async def wait(self, ex_ids: Iterable[int]) -> bool:
        """``True`` once every account of ``ex_ids`` is collected; ``False`` if the daemon is or
        gets stopped first. No deadline of its own: the caller bounds it."""
        wanted = set(ex_ids)
        while True:
            changed = self._changed
            if self._closed:
                return False
            if wanted <= self._ex_ids:
                return True
            await changed.wait()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
