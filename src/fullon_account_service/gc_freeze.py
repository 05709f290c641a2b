"""Keep what a long-running process holds for good out of the garbage collector's full passes.

Why: a full collection of CPython's oldest generation walks every container object it tracks,
and stops the event loop meanwhile. Most of a producer's objects are there for its whole life:
the modules (ccxt's above all) and each venue's markets: ~270,000 objects once three venues'
markets are loaded, which a full pass walks in ~120 ms of CPU here (the simulator: ~190,000).
Every WebSocket frame that arrives or is due to be sent during a pass waits for it
(bench/RESULTS.md, "End to end, fifth pass").

``freeze_permanent(what)`` collects once, then moves every object still alive to the permanent
generation (``gc.freeze``), which no pass visits; objects created later are collected as usual.
The producer calls it when it has a venue's markets for the first time and no account client is
alive yet (``producers.clients``): the imports are done and the markets are what grows with the
venues; ``fullon-account simulate`` once its venues are served. Once per ``what`` per process,
whatever the number of clients or factories (a test process makes many), so what it costs is
bounded: an object alive at one of those moments that later ends up in an unreachable reference
cycle is never freed (reference counting still frees everything else).
"""

from __future__ import annotations

import gc
import time

from fullon_account_service.logs import get_logger

_log = get_logger("gc_freeze")
_frozen: set[str] = set()


def freeze_permanent(what: str) -> None:
    """The first time for ``what`` in this process: collect, then exempt every object alive now
    from the collector's passes."""
    if what in _frozen:
        return
    _frozen.add(what)
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    _log.info(
        "objects alive now exempted from garbage collection",
        what=what,
        frozen=gc.get_freeze_count(),
        took_ms=round(1000 * (time.perf_counter() - started)),
    )
