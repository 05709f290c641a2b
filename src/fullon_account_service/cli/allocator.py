"""The ``producer`` command's process runs its Python objects on glibc's malloc, not pymalloc.

Why: pymalloc carves small objects out of 1 MiB arenas and gives an arena back only when every
block in it is free, so the scattered survivors of a burst of fills keep whole arenas resident
that ``malloc_trim(0)`` cannot touch. On glibc's malloc the same objects live in the C heap,
whose free pages the producer's periodic trim (``producers.heap_trim``, ``ACCOUNT_HEAP_TRIM_S``)
hands back 4 KiB at a time (bench/RESULTS.md, "h1, stop 26").

The allocator is fixed when the interpreter starts (``PYTHONMALLOC``), so the console script
re-executes itself once, in the same process (``execve``: same pid, same stdio), with
``PYTHONMALLOC=malloc`` before it does anything else. Only the ``fullon-account producer`` console
script does: a program that runs ``AccountDaemon`` (or the typer app) in its own process keeps
its own allocator. ``ACCOUNT_PRODUCER_MALLOC=false`` keeps pymalloc, and a ``PYTHONMALLOC`` already
set (by the operator, or by the re-execution itself) is left as it is. Only on glibc, where the
trim exists.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from fullon_account_service.errors import ConfigError
from fullon_account_service.settings import Settings


def _glibc() -> bool:
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError):
        return False


def wants_malloc(args: Sequence[str], env: Mapping[str, str]) -> bool:
    """Whether the command line ``args`` (after the program's name) should run on malloc."""
    if args[:1] != ["producer"] or "--help" in args or env.get("PYTHONMALLOC"):
        return False
    try:
        settings = Settings.from_env(env)
    except ConfigError:
        return False  # the command reports it, on whatever allocator
    return settings.producer_malloc and _glibc()


def run_on_malloc(args: Sequence[str]) -> None:
    """Re-execute this process with ``PYTHONMALLOC=malloc`` when ``wants_malloc``; else return."""
    if wants_malloc(args, os.environ) and sys.executable:
        os.execve(sys.executable, sys.orig_argv, {**os.environ, "PYTHONMALLOC": "malloc"})


def allocator_in_use() -> str:
    """``pymalloc`` or ``malloc``: which allocator serves this interpreter's small objects.
    pymalloc counts its live blocks (thousands in any running interpreter); with any other
    allocator ``sys.getallocatedblocks()`` is 0."""
    return "pymalloc" if sys.getallocatedblocks() > 0 else "malloc"
