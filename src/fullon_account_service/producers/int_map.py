"""A map of 64-bit ints to 64-bit ints in two sorted arrays: 16 bytes an entry and two objects.

The producer remembers per account, for every closed order, a 64-bit key and a 64-bit digest
(``FinalStates``). A dict of ints costs ~110 bytes an entry, and arrays split into 256 buckets
cost an object each (~100 bytes) that held one or two entries at a thousand orders: with the
published ids' one array per second, those small arrays were a quarter MiB per account at 1,000
accounts (bench/RESULTS.md, stop 31). Here the keys stay sorted for ``bisect`` and the values sit
at the same index, so a lookup is a binary search and an insertion or a removal a move of the
entries after it (a few microseconds at the few thousand entries these hold). Arrays hand back
the memory of removed entries once fewer than half their room is used.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left


class IntMap:
    __slots__ = ("_keys", "_values")

    def __init__(self) -> None:
        self._keys: array[int] = array("q")
        self._values: array[int] = array("q")

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, key: int) -> int | None:
        at = bisect_left(self._keys, key)
        if at < len(self._keys) and self._keys[at] == key:
            return self._values[at]
        return None

    def put(self, key: int, value: int) -> None:
        at = bisect_left(self._keys, key)
        if at < len(self._keys) and self._keys[at] == key:
            self._values[at] = value
            return
        self._keys.insert(at, key)
        self._values.insert(at, value)

    def remove(self, key: int) -> None:
        at = bisect_left(self._keys, key)
        if at < len(self._keys) and self._keys[at] == key:
            del self._keys[at]
            del self._values[at]
