"""The heap trimmer: glibc's ``malloc_trim`` where there is one, a no-op elsewhere; off at 0 s;
ends when the daemon stops. The pinned malloc thresholds: big blocks keep their own mappings."""

from __future__ import annotations

import asyncio
import ctypes
import platform

import pytest

from fullon_account_service.producers import heap_trim
from fullon_account_service.producers.heap_trim import pin_malloc_thresholds, trim_heap, trim_heap_every

GLIBC = platform.libc_ver()[0] == "glibc"
MIB = 1 << 20


def test_trims_on_glibc_only() -> None:
    assert trim_heap() is GLIBC


async def test_off_at_zero_and_ends_with_the_daemon() -> None:
    async with asyncio.timeout(30):
        await trim_heap_every(0, asyncio.Event())
        stopped = asyncio.Event()
        stopped.set()
        await trim_heap_every(0.01, stopped)


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            *("arena", "ordblks", "smblks", "hblks", "hblkhd"),
            *("usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"),
        )
    ]


def _mapped_blocks(libc: ctypes.CDLL) -> int:
    libc.mallinfo2.restype = _MallInfo2
    return int(libc.mallinfo2().hblks)


def _malloc_free(libc: ctypes.CDLL, size: int) -> bool:
    """Allocate and free ``size`` bytes; whether the block had a mapping of its own meanwhile."""
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = (ctypes.c_void_p,)
    before = _mapped_blocks(libc)
    block = libc.malloc(size)
    assert block
    mapped = _mapped_blocks(libc) > before
    libc.free(block)
    return mapped


@pytest.mark.skipif(not GLIBC, reason="glibc's allocator only; elsewhere the call is a no-op (tested below)")
def test_a_big_block_keeps_its_own_mapping_after_a_bigger_one_was_freed() -> None:
    libc = ctypes.CDLL("libc.so.6")
    # freeing a 24 MiB mapped block lifts glibc's threshold to 24 MiB unless it is pinned: a
    # 16 MiB block would then come from the heap, and its pages stay there after it is freed
    _malloc_free(libc, 24 * MIB)
    assert pin_malloc_thresholds({}) is True
    _malloc_free(libc, 24 * MIB)
    assert _malloc_free(libc, 16 * MIB)


def test_the_operators_setting_stands_and_other_c_libraries_are_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert pin_malloc_thresholds({"MALLOC_MMAP_THRESHOLD_": "1048576"}) is False
    assert pin_malloc_thresholds({"MALLOC_TRIM_THRESHOLD_": "0"}) is False
    monkeypatch.setattr(heap_trim, "_glibc", lambda: None)
    assert pin_malloc_thresholds({}) is False
    assert trim_heap() is False
