"""The heap trimmer: glibc's ``malloc_trim`` where there is one, a no-op elsewhere; off at 0 s;
ends when the daemon stops."""

from __future__ import annotations

import asyncio
import platform

from fullon_account_service.producers.heap_trim import trim_heap, trim_heap_every


def test_trims_on_glibc_only() -> None:
    assert trim_heap() is (platform.libc_ver()[0] == "glibc")


async def test_off_at_zero_and_ends_with_the_daemon() -> None:
    async with asyncio.timeout(30):
        await trim_heap_every(0, asyncio.Event())
        stopped = asyncio.Event()
        stopped.set()
        await trim_heap_every(0.01, stopped)
