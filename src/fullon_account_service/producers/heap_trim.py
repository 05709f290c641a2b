"""Give the C heap's free pages back to the system now and then (glibc's ``malloc_trim(0)``).

Why: the producer's live Python objects stay flat per account once every per-account cache is
full, yet its RSS goes on creeping for thousands of fills: frames, REST bodies and large dicts
(over pymalloc's 512-byte limit) come from glibc's heap, and the pages their frees leave between
live blocks stay mapped. ``malloc_trim(0)`` releases those free pages (``madvise``), top of the
heap or not. Measured with ``bench/producer_memory.py --trim`` (bench/RESULTS.md, "Producer
memory, fourth pass"). On a C library other than glibc (musl, macOS) this is a no-op.

``pin_malloc_thresholds`` keeps the blocks of 128 KiB and more out of that heap in the first
place. glibc serves such a block with its own ``mmap`` and unmaps it when freed, but by default
it raises that threshold to the size of any such block freed (up to 32 MiB) and the heap's trim
threshold to twice that: the producer's first markets page (megabytes of JSON) lifts both for
the process' life, and from then on every socket read (up to 256 KiB a read), the unparsed tail
that aiohttp keeps per WebSocket while its reader waits, and every REST body comes from the heap,
where the blocks that outlive a burst pin the pages between them. At 100 accounts, after 2,500
fills each, the heap held 52.7 MiB free (0.46 MiB per account) of its 115.9 MiB
(bench/RESULTS.md, "h1, stop 25").
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
from collections.abc import Mapping
from functools import cache

from fullon_account_service.logs import get_logger

_log = get_logger("producers.heap_trim")


M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
"""``mallopt``'s parameter numbers (glibc's ``malloc.h``)."""
DEFAULT_THRESHOLD = 128 * 1024
"""glibc's own starting value of both thresholds, which ``pin_malloc_thresholds`` keeps."""
OPERATOR_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
"""glibc's environment settings of the same thresholds: an operator who sets one keeps it."""


@cache
def _glibc() -> ctypes.CDLL | None:
    """The C library if it is glibc, else None."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 -- only glibc has it
        libc.malloc_trim  # noqa: B018
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def trim_heap() -> bool:
    """Release the C heap's free pages now; False where that is not possible (not glibc)."""
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def pin_malloc_thresholds(env: Mapping[str, str] = os.environ) -> bool:
    """Set glibc's mmap and trim thresholds to their starting 128 KiB, whatever they rose to
    already; set, they no longer rise (see the module docstring). Not where the environment sets
    either (the operator's choice stands). False where nothing was set (not glibc, or the
    operator's)."""
    libc = _glibc()
    if libc is None or any(name in env for name in OPERATOR_ENV):
        return False
    mmap_set = libc.mallopt(M_MMAP_THRESHOLD, DEFAULT_THRESHOLD)
    return bool(mmap_set and libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_THRESHOLD))


async def trim_heap_every(interval_s: float, stop: asyncio.Event) -> None:
    """``trim_heap`` every ``interval_s`` until ``stop`` is set; returns at once if it cannot
    trim here. The call takes a few milliseconds on a heap of a few hundred MiB."""
    if interval_s <= 0 or _glibc() is None:
        return
    _log.debug("trimming the C heap periodically", interval_s=interval_s)
    while not stop.is_set():
        try:
            async with asyncio.timeout(interval_s):
                await stop.wait()
        except TimeoutError:
            trim_heap()
