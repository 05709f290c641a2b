"""Give the C heap's free pages back to the system now and then (glibc's ``malloc_trim(0)``).

Why: the producer's live Python objects stay flat per account once every per-account cache is
full, yet its RSS goes on creeping for thousands of fills: frames, REST bodies and large dicts
(over pymalloc's 512-byte limit) come from glibc's heap, and the pages their frees leave between
live blocks stay mapped. ``malloc_trim(0)`` releases those free pages (``madvise``), top of the
heap or not. Measured with ``bench/producer_memory.py --trim`` (bench/RESULTS.md, "Producer
memory, fourth pass"). On a C library other than glibc (musl, macOS) this is a no-op.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache

from fullon_account_service.logs import get_logger

_log = get_logger("producers.heap_trim")


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 -- only glibc has it
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def trim_heap() -> bool:
    """Release the C heap's free pages now; False where that is not possible (not glibc)."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


async def trim_heap_every(interval_s: float, stop: asyncio.Event) -> None:
    """``trim_heap`` every ``interval_s`` until ``stop`` is set; returns at once if it cannot
    trim here. The call takes a few milliseconds on a heap of a few hundred MiB."""
    if interval_s <= 0 or _malloc_trim() is None:
        return
    _log.debug("trimming the C heap periodically", interval_s=interval_s)
    while not stop.is_set():
        try:
            async with asyncio.timeout(interval_s):
                await stop.wait()
        except TimeoutError:
            trim_heap()
