"""The producer's event-loop stalls and garbage collections, for ``e2e.py --probe`` only.

Python imports ``sitecustomize`` at start-up from its path; ``e2e.py --probe`` puts this folder on
the producer's ``PYTHONPATH`` (no other process's) with ``E2E_LOOP_PROBE`` naming a file (``{pid}`` in
it becomes the process id: each process that imports the probe writes its own). Then every
callback the event loop runs is timed (``Handle._run``, ~1 us each), and so is every collection
(``gc.callbacks``); a thread writes the totals to the file every ``DUMP_S`` (written aside and
renamed, so a reader never sees half of it): callbacks run and their time, each callback of at least
``SLOW_MS`` (wall time, name of its coroutine or function, collector's time inside it), and per
generation the collections, their time and each one of at least ``GC_SLOW_MS``; and the turns of the
loop (one pass of ``_run_once``: every callback ready at its start) whose callbacks together ran at
least ``TURN_SLOW_MS``, with their time and how many callbacks they ran: a task waiting on a reply
(a lease renewal) waits whole turns, not single callbacks. ``e2e_loop`` reads it per rate. Nothing
of the product changes, but its loop: uvloop runs callbacks in C, where they cannot be timed, so a
probed producer runs on asyncio's own loop (``cli.event_loop`` asks ``uvloop.new_event_loop`` for
its loop, which this replaces); its figures are asyncio's, not those of the uvloop a producer runs
on otherwise.
"""

from __future__ import annotations

import os

PATH = os.environ.get("E2E_LOOP_PROBE", "").replace("{pid}", str(os.getpid()))
SLOW_MS = 20.0
GC_SLOW_MS = 5.0
TURN_SLOW_MS = 500.0
DUMP_S = 0.5
KEEP = 5_000
"""Slow callbacks and collections kept (the first ones), so a pathological run stays bounded."""


def _install(path: str) -> None:
    import asyncio
    import gc
    import json
    import threading
    import time
    from asyncio import base_events, events

    clock = time.perf_counter
    state: dict[str, object] = {}
    totals = {"callbacks": 0, "busy_s": 0.0, "gc_ms": 0.0, "turns": 0, "longest_turn_ms": 0.0}
    turn = {"busy_s": 0.0, "callbacks": 0}
    turns_slow: list[tuple[float, float, int]] = []
    run_once = base_events.BaseEventLoop._run_once
    slow: list[tuple[float, float, float, str]] = []
    per_gen = {g: [0, 0.0] for g in range(3)}
    gc_slow: list[tuple[float, int, float]] = []
    run = events.Handle._run

    def timed(handle: events.Handle) -> None:
        started, gc_before = clock(), totals["gc_ms"]
        run(handle)
        took = clock() - started
        totals["callbacks"] += 1
        totals["busy_s"] += took
        turn["callbacks"] += 1
        turn["busy_s"] += took
        if took * 1000 >= SLOW_MS and len(slow) < KEEP:
            slow.append((time.time(), took * 1000, totals["gc_ms"] - gc_before, _name(handle)))

    def timed_turn(loop: base_events.BaseEventLoop) -> None:
        turn["busy_s"], turn["callbacks"] = 0.0, 0
        run_once(loop)
        took_ms = turn["busy_s"] * 1000
        totals["turns"] += 1
        totals["longest_turn_ms"] = max(totals["longest_turn_ms"], took_ms)
        if took_ms >= TURN_SLOW_MS and len(turns_slow) < KEEP:
            turns_slow.append((time.time(), took_ms, int(turn["callbacks"])))

    def collected(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            state["gc"] = clock()
            return
        took = (clock() - float(state.get("gc", clock()))) * 1000  # type: ignore[arg-type]
        gen = info["generation"]
        per_gen[gen][0] += 1
        per_gen[gen][1] += took
        totals["gc_ms"] += took
        if took >= GC_SLOW_MS and len(gc_slow) < KEEP:
            gc_slow.append((time.time(), gen, took))

    def dump() -> None:
        while True:
            time.sleep(DUMP_S)
            snapshot = {
                **totals,
                "slow": list(slow),
                "gc": per_gen,
                "gc_slow": list(gc_slow),
                "turns_slow": list(turns_slow),
            }
            with open(f"{path}.tmp", "w") as out:
                json.dump(snapshot, out)
            os.replace(f"{path}.tmp", path)

    def _name(handle: events.Handle) -> str:
        """The task's coroutine and, when it is suspended again, where (the innermost awaiting
        function): the slow step ran between its previous suspension and that one."""
        callback = handle._callback
        task = getattr(callback, "__self__", None)
        if not isinstance(task, asyncio.Task):
            return str(getattr(callback, "__qualname__", callback))
        coro = task.get_coro()
        name = str(getattr(coro, "__qualname__", coro))
        inner, depth = coro, 0
        while getattr(inner, "cr_await", None) is not None and depth < 50:
            inner, depth = inner.cr_await, depth + 1
        frame = getattr(inner, "cr_frame", None) or getattr(inner, "gi_frame", None)
        if frame is not None and inner is not coro:
            name += f" @ {frame.f_code.co_qualname}:{frame.f_lineno}"
        return name

    try:
        import uvloop
    except ImportError:
        pass
    else:
        uvloop.new_event_loop = asyncio.new_event_loop
    events.Handle._run = timed  # type: ignore[method-assign]
    base_events.BaseEventLoop._run_once = timed_turn  # type: ignore[method-assign]
    gc.callbacks.append(collected)
    threading.Thread(target=dump, name="e2e-loop-probe", daemon=True).start()


if PATH:
    _install(PATH)
