"""The event loop the long-running commands (``producer``, ``sink``, ``simulate``) run on.

Why: a producer's CPU that is not ccxt's own parsing is mostly the event loop's: waking tasks,
timers, and the socket reads and writes of its WebSockets and Redis round trips. uvloop (libuv,
written in Cython) does that work in C where asyncio's default loop does it in Python
(bench/RESULTS.md, "h1, stop 23"). Where uvloop is not installed (it is not on Windows) the
commands run on asyncio's own loop, which behaves the same to the code above it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

_T = TypeVar("_T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop constructor, or None (asyncio's default loop) where uvloop is absent."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, _T]) -> _T:
    """``asyncio.run(main)`` on the loop ``loop_factory`` picks."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
