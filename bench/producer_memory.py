"""RSS per account of the real ``fullon-account producer`` process, sockets open and under fills.

Not a timed test. For each account count (and first for one account, the baseline of the same
run) the parent starts the simulator (``--venue``), a private ``redis-server`` on a free loopback
port and a SQLite database holding that many accounts, then the real producer as a subprocess,
and reads its RSS from ``/proc/<pid>/status``:

- *open*: every account's private channels subscribed and its first reconciliation on the bus;
- *half* and *full*: after ``--fills`` / 2 and ``--fills`` fills per account (the simulator's
  scenario steps, paced so the producer keeps up: each chunk waits until the bus holds the fills).
  Each is read twice: *in flight*, as soon as the last chunk's fills are on the bus (audits, REST
  pages and the outbox may still be at work), and *settled*, once the producer's own ``/metrics``
  show it idle (``settle``: nothing published, no frame read but keepalive pongs, buffers
  empty); a second settled reading ``SETTLE_WINDOW_S`` later tells whether RSS still grows once
  nothing happens;
- *steady*: ``--linger`` seconds after the *full* point's last reading (``LINGER_S`` by default;
  0: no such point), the producer left idle: the point the issue's "steady state" names, once the
  memories' short time bounds have acted, where *full* reads a producer ~20-40 s after a burst.

It prints MiB per account over the baseline, ``(rss(N) - rss(1)) / (N - 1)``, at each point, and
the growth per fill per account between *half* and *full*: flat memory means about 0 there.
With ``--arenas`` the *steady* point also gets its allocator statistics (and its trim with
``--trim``, after the one at *full*: what a producer trimming every minute holds).

With ``--arenas`` the producer runs under a small probe that, on ``SIGUSR1``, writes CPython's
allocator statistics (``sys._debugmallocstats``) to a file: at each point the bench prints the
pymalloc arenas held and the bytes in live small objects, which tells RSS held by live objects
from RSS held by arenas that a past peak left fragmented (issue 18). The probe imports
structlog before the producer starts: the producer imports it (with rich, ~2 MiB) at its first log
line, which at the bench's WARNING level came in a 10-account run and not in its 1-account
baseline (0.2 MiB per account of bias at 10 accounts). The producer's log is printed at the end.
``--trace N`` (implies ``--arenas``) also starts ``tracemalloc`` at *open* and prints the N source
lines whose live allocations grew most since then, and the same at the highest traced total since
the previous point (a thread snapshots each new high by 1 MiB): what a transient peak was made of,
apart from what stays (tracing slows the producer: compare RSS from runs without it). At the
highest of those highs (looked at every 4 MiB of new high: it walks the whole heap) it also prints
who holds the objects ccxt's JSON decoder made (``ws/client.py``): the type and allocation site of
each object that refers to them, and of a sample of those objects' own holders.
``--inflight`` (implies ``--arenas``) also samples, every 20 ms in the producer, what it holds in
flight and prints at each point the highest count of each since the previous point and the counts
when the most pymalloc blocks were live: the outbox's events and the writers waiting for its room,
REST reads by source (``reconcile``: start, reconnect, lease taken back; ``rest``: audits and
polls), audits waiting for a place, REST calls, and WebSocket messages being handled (which hold
their rows until their events are queued, or on the bus for fills): which of them grows with a
backlog.
With ``BENCH_TYPES=N`` in the bench's environment (and ``--arenas``) each point also prints the N
commonest types among the objects the collector tracks and the N commonest dict shapes (size and
first keys): what the live small objects are. Objects made before the producer froze its start-up
heap (``gc_freeze``) are not counted, so compare points, not totals. ``BENCH_HOLDERS=N`` adds
who holds the N largest sets, lists and dicts (slow: a heap scan per step up). ``BENCH_LOG_LEVEL`` (WARNING
by default) is the producer's ``LOG_LEVEL``: INFO shows each stream's reconnect and its reason,
which the bench otherwise only counts ("WebSocket reconnects so far").
The producer's periodic ``malloc_trim`` (``ACCOUNT_HEAP_TRIM_S``) is off unless that variable is
set for the bench. ``--trim`` (implies ``--arenas``) also calls glibc's ``malloc_trim(0)`` in the
producer at each point and prints its RSS before and after: what a periodic trim would give back
(later points then start from the trimmed heap).

The bench counts the entries ever added to each bus stream (``XINFO STREAM``'s ``entries-added``)
and trims the streams after each chunk of scenario steps, so 10,000 fills per account at 100
accounts do not pile up in Redis. A chunk is 20 scenario steps per account. After
each half it prints where the time went: wall clock, the simulator's steps (in this process) and
the producer's CPU seconds (``/proc/<pid>/stat``).

    uv run python bench/producer_memory.py [--venue kraken] [--counts 10,100,1000] [--fills 300]
        [--arenas] [--trace 25] [--trim] [--linger 75] [--inflight]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from fullon_account_service.bus.streams import stream_key
from fullon_account_service.producers.clients import strip_credentials
from fullon_account_service.producers.normalise.known_orders import FINAL_AGE_MS
from fullon_account_service.producers.ws_guard import FRAME_SAMPLE
from fullon_account_service.simulator.model import SimAccount
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator
from fullon_account_service.storage import DatabaseContext
from fullon_account_service.storage.db.engine import make_engine, make_session_factory
from fullon_account_service.storage.db.migrate import upgrade
from private_servers import free_port, redis_argv, start_redis

MIB = 1024 * 1024
PREFIX = "bench:memory:"
FILL_CHANNEL = {"kraken": "executions", "bybit": "execution"}
STEPS_PER_ACCOUNT = 20
"""Scenario steps per account in one chunk of ``drive``: about as many rows per stream as ccxt's
caches hold (``clients.WS_OPTIONS``), whatever the account count, so that a chunk's fills reach
the bus over WebSocket and no chunk waits for a REST audit (with a floor of 200 steps a chunk,
the 1-account baseline waited ~5 s a chunk for its audit: 20 fills/s)."""
STEPS_PER_TURN = 500
"""Scenario steps run without a turn of this process' event loop, which serves the simulator's
sockets: a chunk run in one go (20,000 steps at 1,000 accounts, 5-9 s here, bench/RESULTS.md
"Stop 35") stopped every socket, pongs included, for longer than the venue's keepalive allows once
the producer's own turns were added, and the producer's ccxt timed out every socket at once, which
no venue does (~0.2 s a slice)."""
CHUNK_WAIT_S = 300.0
"""How long a chunk waits for its fills on the bus before the next one is sent anyway (saying
so): 30 s before stop 24, short enough that a producer behind at 100 accounts was sent chunk after
chunk, its burst growing with every one; 300 s lets it catch up, and still ends a run in which
fills never arrive."""
SETTLE_WINDOW_S = 8.0
"""How long the producer's counters must stand still to call it idle: longer than the bench's
poll interval (5 s), so the one audit that follows the last fills falls inside the window. REST
reads that publish nothing do not count as activity: a producer at rest still polls every poll
interval (here 5 s), which is part of its steady state."""
SETTLE_TIMEOUT_S = 240.0
LINGER_S = FINAL_AGE_MS / 1000 + 15.0
"""The default wait from *full* to *steady*: a closed order's facts go ``FINAL_AGE_MS`` after it
was last seen, applied by the daemon's upkeep every 5 s, and *full* is read at least
2 x ``SETTLE_WINDOW_S`` after the last fill; the rest is margin. The 7.5-15 minute bounds of the
final states and fill ids have not acted by then: under activity they never empty."""
KEEPALIVE_S = {"kraken": 6.0, "bybit": 18.0}
"""ccxt's ``streaming.keepAlive`` of each venue (ccxt 4.5): an idle client pings that often and
reads the pong, a frame like any other to the producer's frame counter. At 100 accounts that is
~17 frames a second (sampled one in ``FRAME_SAMPLE``), so "no frame read for ``SETTLE_WINDOW_S``"
could never hold (before stop 24 it did not: 100 accounts never settled), and at 10 accounts it
held only when the sampling happened to skip every pong for 8 s."""
IDLE_COUNTERS = (
    "fullon_account_events_published_total",
    "fullon_account_ws_frames_total",
)
BUFFER_DEPTH = "fullon_account_producer_buffer_depth"
RECONNECTS = "fullon_account_ws_reconnects_total"
KEEP_ENTRIES = 1000
"""Entries left in each bus stream after a chunk: the bench counts what was added, so Redis need
not hold 10^6 events (its memory is not the producer's, but the machine's)."""
ARENA_PROBE = """
import gc, os, signal, sys, threading, time, tracemalloc
import structlog  # the producer's first log line imports it (~2 MiB with rich): in every run alike
from fullon_account_service.cli.app import main

TRACE = int(os.environ.get("BENCH_TRACE_TOP", "0"))
TYPES = int(os.environ.get("BENCH_TYPES", "0"))
HOLDERS = int(os.environ.get("BENCH_HOLDERS", "0"))
first = []

def stats(*_):
    gc.collect()
    path = os.environ["BENCH_MALLOC_STATS"]
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    saved = os.dup(2)
    os.dup2(fd, 2)
    sys._debugmallocstats()
    os.dup2(saved, 2)
    os.close(fd)
    os.close(saved)
    census(path + ".census")
    if TRACE:
        trace(path + ".trace")
    os.replace(path + ".tmp", path)

def census(path):
    # live instances of the per-account memories and their entries: more instances than
    # accounts would be a session (and all it remembers) kept after its release
    from fullon_account_service.producers.final_states import FinalStates
    from fullon_account_service.producers.normalise.known_orders import KnownOrders
    from fullon_account_service.producers.published_ids import PublishedIds
    from fullon_account_service.producers.session import AccountSession
    kinds = (AccountSession, KnownOrders, PublishedIds, FinalStates)
    found = {k.__name__: [0, 0] for k in kinds}
    for o in gc.get_objects():
        for k in kinds:
            if isinstance(o, k):
                found[k.__name__][0] += 1
                found[k.__name__][1] += len(o) if hasattr(type(o), "__len__") else 0
    with open(path, "w") as out:
        out.write(", ".join(f"{name} {n} ({entries} entries)" for name, (n, entries) in found.items()))
        if TYPES:
            out.write(types())

def types():
    # the collector's objects by type, and dicts by their keys: what the live small objects are
    from collections import Counter
    count, size, shapes = Counter(), Counter(), Counter()
    for o in gc.get_objects():
        kind = type(o)
        name = f"{kind.__module__}.{kind.__qualname__}"
        count[name] += 1
        size[name] += sys.getsizeof(o)
        if kind is dict:
            keys = sorted(k if isinstance(k, str) else type(k).__name__ for k in list(o)[:64])
            shapes[f"{len(o)}: " + ",".join(keys[:6])] += 1
    lines = [f"{n:>10,} {size[name] / 2**20:8.1f} MiB  {name}" for name, n in count.most_common(TYPES)]
    lines += [f"{n:>10,} dicts of {shape}" for shape, n in shapes.most_common(TYPES)]
    if HOLDERS:
        lines += largest(HOLDERS)
    return "\\n      " + "\\n      ".join(lines)

def largest(n):
    # the n largest sets, lists and dicts the collector tracks, by who holds them (an object's
    # attribute, a dict's key, a container's type; three steps up), and how many more like each
    objs = gc.get_objects()
    big = [o for o in objs if o is not objs and type(o) in (set, list, dict) and sys.getsizeof(o) > 4096]
    big.sort(key=sys.getsizeof, reverse=True)
    paths = {}
    for o in big[:n]:
        path = held_by(o, {id(big), id(objs)})
        total = paths.setdefault(path, [0, 0])
        total[0] += 1
        total[1] += sys.getsizeof(o)
    held = sum(map(sys.getsizeof, big)) / 2**20
    lines = [f"{len(big):,} sets, lists and dicts over 4 KiB, {held:.1f} MiB; the largest held by:"]
    for path, (k, size) in sorted(paths.items(), key=lambda p: -p[1][1]):
        lines.append(f"{k:>6} {size / 2**20:8.1f} MiB  {path}")
    return lines

def held_by(o, skip):
    # three steps up from o: an object's attribute (Type.attr), a closure's function, a dict's
    # key, else the referrer's type; an instance's own dict is preferred over other referrers
    import types as kinds
    names = []
    for _ in range(3):
        refs = [r for r in gc.get_referrers(o) if id(r) not in skip and not isinstance(r, kinds.FrameType)]
        if not refs:
            break
        owned = None
        for r in refs:
            if isinstance(r, dict):
                owner = next((x for x in gc.get_referrers(r) if getattr(x, "__dict__", None) is r), None)
                if owner is not None:
                    owned = (r, owner)
                    break
        if owned is not None:
            r, owner = owned
            key = next((k for k, v in r.items() if v is o), "?")
            names.append(f"{type(owner).__qualname__}.{key}")
            o = owner
            continue
        r = refs[0]
        if type(r).__name__ == "cell":
            closures = [t for t in gc.get_referrers(r) if isinstance(t, tuple)]
            funcs = [f for t in closures for f in gc.get_referrers(t) if isinstance(f, kinds.FunctionType)]
            if funcs:
                names.append(f"{funcs[0].__qualname__} (closure)")
                o = funcs[0]
                continue
        if isinstance(r, dict):
            key = next((k for k, v in r.items() if v is o), "?")
            names.append(f"dict[{str(key)[:30]}]")
        else:
            names.append(type(r).__qualname__)
        o = r
    return " <- ".join(names)

peak = []
high = [0]
held = []
held_at = [0]
DECODED = os.sep + os.path.join("ws", "client.py")

def site(o):
    tb = tracemalloc.get_object_traceback(o)
    if tb is None:
        return "?"
    name = tb[0].filename.rsplit("site-packages" + os.sep, 1)[-1].rsplit("src" + os.sep, 1)[-1]
    return f"{name}:{tb[0].lineno}"

def describe(o):
    name = type(o).__qualname__
    code = getattr(o, "cr_code", None) or getattr(o, "f_code", None)
    if code is not None:
        name += " " + code.co_qualname
    return f"{name} @ {site(o)}"

def holders(current):
    # who holds the objects ccxt's JSON decoder made (``ws/client.py``): every object the collector
    # tracks that refers to one directly, by its type and allocation site, with the number and
    # bytes of decoded objects reachable through decoded objects only (each counted once)
    from collections import Counter
    from collections import defaultdict
    objs = gc.get_objects()
    seen = set()
    count, size = Counter(), Counter()
    samples = defaultdict(list)
    for p in objs:
        tb = tracemalloc.get_object_traceback(p)
        if tb is not None and tb[0].filename.endswith(DECODED):
            continue
        for c in gc.get_referents(p):
            if id(c) in seen:
                continue
            tb = tracemalloc.get_object_traceback(c)
            if tb is None or not tb[0].filename.endswith(DECODED):
                continue
            key = describe(p)
            if len(samples[key]) < 100:
                samples[key].append(p)
            stack = [c]
            seen.add(id(c))
            while stack:
                o = stack.pop()
                count[key] += 1
                size[key] += sys.getsizeof(o)
                for g in gc.get_referents(o):
                    if id(g) not in seen:
                        tb = tracemalloc.get_object_traceback(g)
                        if tb is not None and tb[0].filename.endswith(DECODED):
                            seen.add(id(g))
                            stack.append(g)
    # and who holds the holders (a sample of each of the top ones), one level up
    top = count.most_common(TRACE)
    wanted = {id(p): key for key, _ in top for p in samples[key]}
    up = defaultdict(Counter)
    for q in objs:
        for r in gc.get_referents(q):
            key = wanted.get(id(r))
            if key is not None and q is not objs:
                up[key][describe(q)] += 1
    del objs, samples
    lines = [f"traced {current / (1 << 20):.1f} MiB; decoded objects held: {sum(count.values())}"]
    for key, n in top:
        lines.append(f"{size[key] / 1024:10.1f} KiB {n:8d} objects  held by {key}")
        for parent, k in up[key].most_common(3):
            lines.append(f"{'':32}(a sample of {k} of them held by {parent})")
    held[:] = lines

def watch_peak():
    # while tracing: a snapshot each time the traced total reaches a new high (by 1 MiB), so that
    # what a transient peak was made of can be told from what stays; and who holds the decoded
    # frames at the highest point (``holders``, at most every 4 MiB of new high: it is slow)
    while True:
        time.sleep(0.1)
        current = tracemalloc.get_traced_memory()[0]
        if current > high[0] + (1 << 20):
            high[0] = current
            peak[:] = [tracemalloc.take_snapshot()]
            if current > held_at[0] + (4 << 20):
                held_at[0] = current
                holders(current)

def large(snapshot):
    # the blocks over pymalloc's 512 bytes (glibc's), by allocation line: size and count
    from collections import Counter
    size, count = Counter(), Counter()
    for t in snapshot.traces:
        if t.size > 512:
            size[str(t.traceback[0])] += t.size
            count[str(t.traceback[0])] += 1
    return size, count

def write_diff(path, snapshot):
    diff = snapshot.compare_to(first[0], "lineno")
    with open(path, "w") as out:
        for d in diff[:TRACE]:
            out.write(f"{d.size_diff / 1024:10.1f} KiB {d.count_diff:8d} objects  {d.traceback}\\n")
        (size, count), (size0, count0) = large(snapshot), large(first[0])
        size.subtract(size0)
        count.subtract(count0)
        grown_kib = sum(size.values()) / 1024
        out.write(f"  blocks over 512 bytes (glibc's), grown since open: {grown_kib:.1f} KiB\\n")
        for line, grown in size.most_common(TRACE):
            out.write(f"{grown / 1024:10.1f} KiB {count[line]:8d} blocks  {line}\\n")

def trace(path):
    # the first call starts tracing (at open); later ones write what grew since, by line, now
    # and at the highest traced total since the previous call (then the peak starts again)
    if not first:
        tracemalloc.start(1)
        first.append(tracemalloc.take_snapshot())
        threading.Thread(target=watch_peak, daemon=True).start()
        return
    write_diff(path, tracemalloc.take_snapshot())
    if peak:
        write_diff(path + ".peak", peak.pop())
    if held:
        with open(path + ".holders", "w") as out:
            out.write("\\n".join(held) + "\\n")
        held.clear()
    high[0] = 0
    held_at[0] = 0

def trim(path):
    # glibc only: what malloc_trim(0) gives back now (RSS before and after, KiB)
    import ctypes
    def rss():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    before = rss()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open(path, "w") as out:
        out.write(f"{before} {rss()}\\n")

MALLINFO2 = (
    "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"
)

def glibc_view():
    # glibc's own view of its heap (mallinfo2: summed over its malloc arenas), its malloc arenas
    # (malloc_info), the threads, and the process' resident memory by kind of mapping (smaps)
    import ctypes, re
    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in MALLINFO2]
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    info = libc.mallinfo2()
    view = {name: getattr(info, name) for name in MALLINFO2}
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
    libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
    libc.fclose.argtypes = (ctypes.c_void_p,)
    xml = os.environ["BENCH_MALLOC_STATS"] + ".xml"
    fp = libc.fopen(xml.encode(), b"w")
    libc.malloc_info(0, fp)
    libc.fclose(fp)
    with open(xml) as text:
        heaps = re.findall(r'<heap nr="(\\d+)">.*?<system type="current" size="(\\d+)"/>', text.read(), re.S)
    view["malloc_arenas"] = len(heaps)
    view["thread_arenas"] = sum(int(size) for nr, size in heaps if nr != "0")
    view["threads"] = len(os.listdir("/proc/self/task"))
    rss = dict.fromkeys(("sbrk_heap", "anon", "file"), 0)
    name = ""
    # line by line: ``readlines`` made ~1 MiB of lists at 100 accounts, the highest traced
    # total that ``--trace`` then reported as the burst's peak
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split()
            if "-" in head[0] and not head[0].endswith(":"):
                name = head[5] if len(head) > 5 else ""
            elif head[0] == "Rss:":
                kind = "sbrk_heap" if name == "[heap]" else "anon" if name == "" else "file"
                rss[kind] += int(head[1]) * 1024
    view.update({"rss_" + k: v for k, v in rss.items()})
    return view

def on_signal(*args):
    path = os.environ["BENCH_MALLOC_STATS"]
    view = glibc_view()
    if os.environ.get("BENCH_TRIM"):
        trim(path + ".trim")
        view.update({"trimmed_" + k: v for k, v in glibc_view().items() if k.startswith("rss_")})
    with open(path + ".glibc", "w") as out:
        out.write(__import__("json").dumps(view))
    if os.environ.get("BENCH_INFLIGHT"):
        write_inflight(path + ".inflight")
    stats(*args)

INFLIGHT = {}
INFLIGHT_MAX = {}
INFLIGHT_AT_PEAK = {}
outboxes, pollers = [], []

def counted(cls, name, key):
    # count the calls of ``cls.name`` in flight under ``key(args)`` (on the loop's thread)
    import functools
    wrapped = getattr(cls, name)
    @functools.wraps(wrapped)
    async def run(*args, **kwargs):
        k = key(args, kwargs)
        INFLIGHT[k] = INFLIGHT.get(k, 0) + 1
        try:
            return await wrapped(*args, **kwargs)
        finally:
            INFLIGHT[k] -= 1
    setattr(cls, name, run)

def kept(cls, into):
    wrapped = cls.__init__
    def init(self, *args, **kwargs):
        wrapped(self, *args, **kwargs)
        into.append(self)
    cls.__init__ = init

def sample():
    # what is in flight now: the outbox's items and its writers waiting for space, REST reads
    # by source, audits waiting for a place, REST calls and WebSocket messages being handled
    now = dict(INFLIGHT)
    now["outbox items"] = sum(len(o._items) + o._inflight for o in outboxes)
    now["outbox writers waiting"] = sum(len(o._space._waiters or ()) for o in outboxes)
    now["audits waiting"] = sum(len(p._reading._waiters or ()) for p in pollers)
    now["blocks"] = sys.getallocatedblocks()
    return now

def watch_inflight():
    while True:
        time.sleep(0.02)
        try:
            now = sample()
        except RuntimeError:  # a dict or deque changed size under us: the next sample
            continue
        for k, v in now.items():
            if v > INFLIGHT_MAX.get(k, 0):
                INFLIGHT_MAX[k] = v
        if now["blocks"] >= INFLIGHT_AT_PEAK.get("blocks", 0):
            INFLIGHT_AT_PEAK.clear()
            INFLIGHT_AT_PEAK.update(now)

def write_inflight(path):
    keys = sorted(set(INFLIGHT_MAX) | set(INFLIGHT_AT_PEAK))
    with open(path, "w") as out:
        for k in keys:
            most, at_peak = INFLIGHT_MAX.get(k, 0), INFLIGHT_AT_PEAK.get(k, 0)
            out.write(f"{k}: max {most}, at the most live blocks {at_peak}\\n")
    INFLIGHT_MAX.clear()
    INFLIGHT_AT_PEAK.clear()

if os.environ.get("BENCH_INFLIGHT"):
    from fullon_account_service.producers.outbox import Outbox
    from fullon_account_service.producers.reconcile import Reconciler
    from fullon_account_service.producers.rest_poller import RestAccountPoller
    from fullon_account_service.producers.session import AccountSession
    from fullon_account_service.producers.ws_messages import MessageHandlers
    kept(Outbox, outboxes)
    kept(RestAccountPoller, pollers)
    source = lambda a, kw: str(a[3] if len(a) > 3 else kw.get("source", "rest"))
    counted(Reconciler, "run", lambda a, kw: "REST reads, " + source(a, kw))
    counted(AccountSession, "call", lambda a, kw: "REST calls")
    counted(MessageHandlers, "_dispatch", lambda a, kw: "ws messages")
    threading.Thread(target=watch_inflight, daemon=True).start()

signal.signal(signal.SIGUSR1, on_signal)
sys.argv = ["fullon-account", "producer"]
main()
"""


@dataclass(frozen=True, slots=True)
class Sample:
    accounts: int
    open_mib: float
    half_mib: float
    full_mib: float
    fills: int
    half_settled: float | None
    full_settled: float | None
    full_later: float | None
    """RSS ``SETTLE_WINDOW_S`` after the settled reading at *full*: growth while idle."""
    trimmed: tuple[float, float, float] | None = None
    """RSS after ``malloc_trim(0)`` at open, half and full (``--trim``)."""
    glibc: tuple[dict[str, float], ...] = ()
    """glibc's view at open, half and full (``--arenas``): ``GLIBC_COLUMNS``."""
    steady: Steady | None = None
    """The *steady* point (``--linger``), or None without one."""


@dataclass(frozen=True, slots=True)
class Steady:
    linger_s: float
    rss: float
    trimmed: float | None = None
    """RSS after ``malloc_trim(0)`` (``--trim``)."""
    view: dict[str, float] | None = None
    """glibc's and pymalloc's view (``--arenas``): ``GLIBC_COLUMNS``."""


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def until(
    check: Callable[[], Awaitable[bool]], timeout_s: float, what: str, every_s: float = 0.2
) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        await asyncio.sleep(every_s)


def summed(text: str, names: tuple[str, ...]) -> dict[str, float]:
    """From a ``/metrics`` page: each of ``names`` summed over its labels."""
    sums = dict.fromkeys(names, 0.0)
    for line in text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in sums:
            sums[name] += float(line.rsplit(" ", 1)[1])
    return sums


def idle_state(text: str) -> tuple[tuple[float, ...], float]:
    """From a ``/metrics`` page: the idle counters (each summed over its labels) and the
    producer buffers' total depth."""
    sums = summed(text, (*IDLE_COUNTERS, BUFFER_DEPTH))
    return tuple(sums[c] for c in IDLE_COUNTERS), sums[BUFFER_DEPTH]


def _page(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        return str(answer.read().decode())


def _metrics(port: int) -> tuple[tuple[float, ...], float]:
    return idle_state(_page(port))


def reconnects(port: int) -> float:
    """The producer's WebSocket reconnects so far (every label): its log says nothing of them at
    the bench's WARNING level."""
    return summed(_page(port), (RECONNECTS,))[RECONNECTS]


def keepalive_frames(venue: str, accounts: int) -> float:
    """The WebSocket frames an idle producer still reads in ``SETTLE_WINDOW_S``, twice over: one
    pong per account per ccxt ``keepAlive`` (the sampled frame counter moves by ``FRAME_SAMPLE``
    at a time, hence the floor of a few samples)."""
    return max(2 * accounts * SETTLE_WINDOW_S / KEEPALIVE_S[venue], 4 * FRAME_SAMPLE)


def busy(last: tuple[float, ...], now: tuple[float, ...], allowance: float) -> bool:
    """Whether the producer did something between two readings of ``IDLE_COUNTERS``: published
    an event, or read more WebSocket frames than the keepalive pongs (``allowance``)."""
    published, frames = now[0] - last[0], now[1] - last[1]
    return published > 0 or frames > allowance


async def settle(port: int, pid: int, label: str, venue: str, accounts: int) -> float | None:
    """Wait until the producer is idle: no event published for ``SETTLE_WINDOW_S``, no more
    WebSocket frames read meanwhile than the keepalive pongs of its accounts
    (``keepalive_frames``), its buffers empty (its ``/metrics``). Returns its RSS then,
    or None (and says so) if it did not settle within ``SETTLE_TIMEOUT_S``."""
    allowance = keepalive_frames(venue, accounts)
    started = time.monotonic()
    last: tuple[float, ...] | None = None
    since = started
    while time.monotonic() - started < SETTLE_TIMEOUT_S:
        counters, depth = await asyncio.to_thread(_metrics, port)
        now = time.monotonic()
        if last is None or depth > 0 or busy(last, counters, allowance):
            last, since = counters, now
        elif now - since >= SETTLE_WINDOW_S:
            print(f"  {label}: settled after {now - started:.0f} s, RSS {rss_mib(pid):.1f} MiB", flush=True)
            return rss_mib(pid)
        await asyncio.sleep(0.5)
    print(f"  {label}: NOT settled within {SETTLE_TIMEOUT_S:.0f} s (still publishing or reading)", flush=True)
    return None


async def register(url: str, venue: str, n: int) -> list[int]:
    await upgrade(url)
    engine = make_engine(url)
    try:
        async with DatabaseContext(make_session_factory(engine)) as db:
            user = await db.users.add("bench@example.com")
            ex_ids = [(await db.exchanges.add(user.uid, venue, f"{venue}-{i}")).ex_id for i in range(n)]
            await db.commit()
    finally:
        await engine.dispose()
    return ex_ids


def producer_env(
    sim: Simulator,
    accounts: list[SimAccount],
    ex_ids: list[int],
    work: Path,
    redis_url: str,
    db_url: str,
    metrics_port: int,
) -> dict[str, str]:
    venue = accounts[0].venue
    overrides = {venue: {**strip_credentials(sim.client_config(accounts[0])), "rateLimit": 20}}
    (work / "overrides.json").write_text(json.dumps(overrides))
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "ACCOUNT_STREAM_PREFIX": PREFIX,
        "ACCOUNT_EXCHANGE_OVERRIDES": str(work / "overrides.json"),
        "ACCOUNT_SECRETS_FILE": "",
        "ACCOUNT_DATA_DIR": str(work / "data"),
        "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        "ACCOUNT_METRICS_PORT": str(metrics_port),
        # audits every 5 s while fills come: what a stream held back reaches the bus soon
        "ACCOUNT_POLL_INTERVAL": "5",
        # the producer's periodic malloc_trim: off unless --heap-trim-s (--trim measures it at each point)
        "ACCOUNT_HEAP_TRIM_S": os.environ.get("ACCOUNT_HEAP_TRIM_S", "0"),
    }
    for ex_id, account in zip(ex_ids, accounts, strict=True):
        env[f"EX_ID_{ex_id}_KEY"] = account.api_key
        env[f"EX_ID_{ex_id}_SECRET"] = account.secret
    return env


async def print_arenas(pid: int, path: Path, label: str) -> tuple[float | None, dict[str, float]]:
    """pymalloc's arenas (1 MiB each, returned only when empty) against its live blocks; glibc's
    view of its heap (``glibc``); the RSS after ``malloc_trim(0)`` with ``--trim``."""
    _ask_stats(pid, path)
    await until(_exists(path), 120, "the allocator statistics")
    fields = _read_stats(path)
    if "arenas allocated current" not in fields:
        # tracemalloc wraps the allocator, and CPython then prints no pymalloc statistics
        print(f"  {label}: RSS {rss_mib(pid):.1f} MiB (no arena statistics while tracing)", flush=True)
    else:
        print(
            f"  {label}: RSS {rss_mib(pid):.1f} MiB, pymalloc arenas {fields['arenas allocated current']} "
            f"(high-water {fields['arenas highwater mark']}), live small objects "
            f"{int(fields['bytes in allocated blocks']) / MIB:.1f} MiB, free in arenas "
            f"{int(fields['bytes in available blocks']) / MIB:.1f} MiB",
            flush=True,
        )
    census = path.with_name(path.name + ".census")
    if census.exists():
        print(f"    live: {census.read_text()}", flush=True)
        census.unlink()
    for suffix, what in (
        (".trace", "grown since open, now (tracemalloc, by line)"),
        (".trace.peak", "grown since open, at the highest traced total since (tracemalloc, by line)"),
        (".trace.holders", "who held ccxt's decoded frames at the highest traced total since"),
        (".inflight", "in flight since the previous point: highest, and when the most blocks were live"),
    ):
        grown = path.with_name(path.name + suffix)
        if grown.exists():
            print(f"    {what}:")
            for line in grown.read_text().splitlines():
                print(f"    {line}", flush=True)
            grown.unlink()
    view_file = path.with_name(path.name + ".glibc")
    view: dict[str, float] = json.loads(view_file.read_text())
    view_file.unlink()
    view["live"] = float(fields.get("bytes in allocated blocks", 0))
    view["pymalloc_arenas"] = float(fields.get("arenas allocated current", 0)) * MIB
    print(f"    glibc: {glibc_line(view)}", flush=True)
    trimmed = path.with_name(path.name + ".trim")
    if not trimmed.exists():
        return None, view
    before, after = (int(v) / 1024 for v in trimmed.read_text().split())
    trimmed.unlink()
    print(f"    malloc_trim(0): RSS {before:.1f} -> {after:.1f} MiB", flush=True)
    return after, view


GLIBC_COLUMNS = (
    ("arena", "sbrk heap"),
    ("hblkhd", "mmapped chunks"),
    ("uordblks", "in use"),
    ("fordblks", "free"),
    ("keepcost", "keepcost"),
    ("thread_arenas", "thread arenas"),
    ("rss_sbrk_heap", "RSS [heap]"),
    ("rss_anon", "RSS anon"),
    ("rss_file", "RSS files"),
    ("trimmed_rss_sbrk_heap", "trimmed RSS [heap]"),
    ("trimmed_rss_anon", "trimmed RSS anon"),
    ("live", "pymalloc live"),
    ("pymalloc_arenas", "pymalloc arenas"),
)
"""What ``glibc_view`` in the probe reads (bytes), in the order the bench prints them: glibc's
``mallinfo2`` (``arena``: the sbrk heap; ``hblkhd``: chunks served by their own mmap; ``uordblks``
and ``fordblks``: in use and free in every malloc arena; ``keepcost``: the top chunk), the malloc
arenas of threads other than the main one (``malloc_info``), the resident memory by kind of mapping
(``/proc/self/smaps``: the sbrk heap, anonymous maps (pymalloc's arenas, threads' malloc arenas and
stacks, mmapped chunks), files),
the same after ``malloc_trim(0)`` with ``--trim``, and pymalloc's live blocks and arenas."""


def glibc_line(view: dict[str, float]) -> str:
    parts = [f"{label} {view[key] / MIB:.1f}" for key, label in GLIBC_COLUMNS if key in view]
    return (
        ", ".join(parts)
        + f" MiB; {view['hblks']:.0f} mmapped chunks, {view['malloc_arenas']:.0f} malloc arenas, "
        f"{view['threads']:.0f} threads"
    )


LOG_EVENT = re.compile(r"^(\S+) \[(\w+)\s*\] (.+?)(?:\s{2,}|\s*\[|$)")
"""A structlog console line: time, level, event (the message before its logger and fields)."""


def log_events(lines: list[str]) -> list[tuple[str, int, str, str]]:
    """Each event the producer logged: (level and event, count, first and last time), most
    frequent first. At 1,000 accounts a run logs tens of thousands of lines into a folder the
    bench deletes: what was lost and when (a lease not confirmed, a reconnect) must be printed."""
    seen: dict[str, list[Any]] = {}
    for line in lines:
        match = LOG_EVENT.match(line)
        if match is None:
            continue
        at, level, event = match.groups()
        entry = seen.setdefault(f"{level} {event}", [0, at, at])
        entry[0] += 1
        entry[2] = at
    ranked = sorted(seen.items(), key=lambda item: -item[1][0])
    return [(event, count, first, last) for event, (count, first, last) in ranked]


def print_log(log: Path) -> None:
    """What the producer logged (at WARNING and above): its count, first lines and each event's
    count and time span."""
    lines = log.read_text(errors="replace").splitlines()
    print(f"  producer logged {len(lines)} lines", flush=True)
    for line in lines[:3]:
        print(f"    {line[:300]}", flush=True)
    for event, count, first, last in log_events(lines)[:12]:
        print(f"    {count} x {event} ({first[11:19]}-{last[11:19]})", flush=True)


def _ask_stats(pid: int, path: Path) -> None:
    path.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)


def _read_stats(path: Path) -> dict[str, str]:
    fields = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition("=")
        fields[key.strip("# ").strip()] = value.strip().replace(",", "")
    return fields


def _exists(path: Path) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await asyncio.to_thread(path.exists)

    return check


@dataclass(frozen=True, slots=True)
class Rig:
    """One run's private ``redis-server``, accounts database, simulator and producer environment."""

    work: Path
    redis: aioredis.Redis
    sim: Simulator
    accounts: list[SimAccount]
    env: dict[str, str]
    metrics_port: int


@asynccontextmanager
async def rig(venue: str, n: int, seed: int, prefix: str) -> AsyncIterator[Rig]:
    """``n`` accounts of ``venue`` registered and simulated; everything removed on the way out."""
    config = ScenarioConfig(venues=(venue,), accounts_per_venue=n, seed=seed)
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        work = Path(tmp)
        port = free_port()
        redis_proc = await start_redis(redis_argv(port, work), timeout_s=30)
        redis = aioredis.Redis(port=port)
        try:
            db_url = f"sqlite+aiosqlite:///{work / 'accounts.db'}"
            ex_ids = await register(db_url, venue, n)
            async with Simulator(config) as sim:
                accounts = sim.world.accounts_of(venue)
                metrics_port = free_port()
                env = producer_env(
                    sim, accounts, ex_ids, work, f"redis://127.0.0.1:{port}/0", db_url, metrics_port
                )
                yield Rig(work, redis, sim, accounts, env, metrics_port)
        finally:
            await redis.aclose()
            redis_proc.terminate()
            await asyncio.wait_for(redis_proc.wait(), 30)


@asynccontextmanager
async def running(
    command: tuple[str, ...], env: dict[str, str], log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """The producer, its output in ``log``; stopped by SIGTERM (killed after 60 s) on the way out."""
    with log.open("wb") as errors:
        producer = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=subprocess.DEVNULL, stderr=errors
        )
    try:
        yield producer
    finally:
        if producer.returncode is None:
            producer.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(producer.wait(), 60)
            except TimeoutError:
                producer.kill()
                await producer.wait()


async def measure(
    venue: str,
    n: int,
    fills: int,
    seed: int,
    arenas: bool = False,
    trace: int = 0,
    trim: bool = False,
    linger_s: float = 0.0,
    inflight: bool = False,
) -> Sample:
    async with rig(venue, n, seed, "producer-memory-") as r:
        work, redis, sim, accounts, env = r.work, r.redis, r.sim, r.accounts, r.env
        script = Path(sys.executable).with_name("fullon-account")
        command = (sys.executable, "-c", ARENA_PROBE) if arenas else (str(script), "producer")
        env["BENCH_MALLOC_STATS"] = str(work / "mallocstats.txt")
        env["BENCH_TRACE_TOP"] = str(trace)
        if trim:
            env["BENCH_TRIM"] = "1"
        if inflight:
            env["BENCH_INFLIGHT"] = "1"
        log = work / "producer.log"
        async with running(command, env, log) as producer:
            for account in accounts:
                await sim.world.subscriptions.wait(account, {FILL_CHANNEL[venue]}, timeout_s=600)
            await until(_stream_at_least(redis, "balance", n), 600, "every account's first balance")
            stats = work / "mallocstats.txt"
            opened = rss_mib(producer.pid)
            after_trim: list[tuple[float | None, dict[str, float]]] = []
            if arenas:
                after_trim.append(await print_arenas(producer.pid, stats, f"{n} accounts, open"))
            await drive(sim, redis, accounts, fills // 2, producer.pid)
            print(f"  WebSocket reconnects so far: {reconnects(r.metrics_port):.0f}", flush=True)
            half = rss_mib(producer.pid)
            half_settled = await settle(r.metrics_port, producer.pid, f"{n} accounts, half", venue, n)
            if arenas:
                after_trim.append(await print_arenas(producer.pid, stats, f"{n} accounts, half"))
            await drive(sim, redis, accounts, fills, producer.pid)
            print(f"  WebSocket reconnects so far: {reconnects(r.metrics_port):.0f}", flush=True)
            full = rss_mib(producer.pid)
            full_settled = await settle(r.metrics_port, producer.pid, f"{n} accounts, full", venue, n)
            later = None
            if full_settled is not None:
                await asyncio.sleep(SETTLE_WINDOW_S)
                later = rss_mib(producer.pid)
            if arenas:
                after_trim.append(await print_arenas(producer.pid, stats, f"{n} accounts, full"))
            steady = await linger(producer.pid, stats, f"{n} accounts", linger_s, arenas)
            made = sum(len(a.fills) for a in accounts)
            print_log(log)
            print(
                f"  {n} accounts, {made} fills: RSS open {opened:.1f}, in flight {half:.1f} / "
                f"{full:.1f}, settled {_mib(half_settled)} / {_mib(full_settled)}, "
                f"{SETTLE_WINDOW_S:.0f} s later {_mib(later)} MiB; this process' longest GC pause "
                f"since the last fill {GC_PAUSES.take():.2f} s",
                flush=True,
            )
    got = [t for t, _ in after_trim if t is not None]
    trimmed = (got[0], got[1], got[2]) if len(got) == 3 else None
    views = tuple(v for _, v in after_trim)
    return Sample(n, opened, half, full, made, half_settled, full_settled, later, trimmed, views, steady)


async def linger(pid: int, stats: Path, label: str, linger_s: float, arenas: bool) -> Steady | None:
    """The *steady* point: ``linger_s`` of idling after *full*, then RSS (and the allocator's view
    with ``--arenas``); None when ``linger_s`` is 0."""
    if linger_s <= 0:
        return None
    await asyncio.sleep(linger_s)
    rss = rss_mib(pid)
    print(f"  {label}, steady ({linger_s:.0f} s after full): RSS {rss:.1f} MiB", flush=True)
    if not arenas:
        return Steady(linger_s, rss)
    trimmed, view = await print_arenas(pid, stats, f"{label}, steady")
    return Steady(linger_s, rss, trimmed, view)


async def _added(redis: aioredis.Redis, kind: str) -> int:
    """Entries ever added to the stream (trimming does not lower it); 0 before the first."""
    try:
        info = await redis.xinfo_stream(stream_key(PREFIX, kind))
    except aioredis.ResponseError:
        return 0
    return int(info["entries-added"])


def _stream_at_least(redis: aioredis.Redis, kind: str, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await _added(redis, kind) >= count

    return check


async def trim_streams(redis: aioredis.Redis) -> None:
    """Trim every bus stream to ``KEEP_ENTRIES``, in two round trips whatever the account count:
    at 100 accounts the prefix holds ~600 keys (cursors, leases), and one ``TYPE`` round trip each
    on this process' loop, busy serving the simulator's REST, held a chunk up for minutes."""
    keys = await redis.keys(f"{PREFIX}*")
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.type(key)
        types = await pipe.execute()
    async with redis.pipeline(transaction=False) as pipe:
        for key, kind in zip(keys, types, strict=True):
            if kind == b"stream":
                pipe.xtrim(key, maxlen=KEEP_ENTRIES, approximate=True)
        await pipe.execute()


class GcPauses:
    """The longest collection of this process (the simulator's) since the last ``take``: a
    full collection of the simulator's millions of fills stops its sockets as long as it runs."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._started = 0.0
        gc.callbacks.append(self._observe)

    def _observe(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.longest = max(self.longest, time.perf_counter() - self._started)

    def take(self) -> float:
        longest, self.longest = self.longest, 0.0
        return longest


GC_PAUSES = GcPauses()


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(
    sim: Simulator, redis: aioredis.Redis, accounts: list[SimAccount], per_account: int, pid: int
) -> None:
    """Scenario steps until the accounts made ``per_account`` fills each on average, a chunk at a
    time, each chunk waiting (up to ``CHUNK_WAIT_S``) for the producer to put its fills on the bus, then
    trimming the bus streams (``KEEP_ENTRIES``). Prints where the time went: the simulator's
    steps (this process), the producer's CPU, and the wall clock."""
    target = per_account * len(accounts)
    chunk = STEPS_PER_ACCOUNT * len(accounts)
    before = sum(len(a.fills) for a in accounts)
    started, producer_cpu, stepping = time.monotonic(), cpu_s(pid), 0.0
    while sum(len(a.fills) for a in accounts) < target:
        for steps in range(0, chunk, STEPS_PER_TURN):
            step_start = time.monotonic()
            sim.engine.run_steps(min(STEPS_PER_TURN, chunk - steps))
            stepping += time.monotonic() - step_start
            await asyncio.sleep(0)  # the simulator's sockets send and answer pings meanwhile
        made = sum(len(a.fills) for a in accounts)
        try:
            await until(
                _stream_at_least(redis, "trade", int(made * 0.95)), CHUNK_WAIT_S, "the producer", 0.05
            )
        except TimeoutError:
            print(f"  (behind: {await _added(redis, 'trade')} of {made} fills on the bus)")
        await trim_streams(redis)
        gc.freeze()  # later collections skip the fills made so far (see GcPauses)
    wall = time.monotonic() - started
    fills = sum(len(a.fills) for a in accounts) - before
    print(
        f"  drove {fills} fills in {wall:.0f} s ({fills / wall:.0f} fills/s): simulator steps "
        f"{stepping:.0f} s, producer CPU {cpu_s(pid) - producer_cpu:.0f} s; this process' longest "
        f"GC pause {GC_PAUSES.take():.2f} s",
        flush=True,
    )


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _per_account(value: float | None, base: float | None, accounts: int) -> str:
    return "-" if value is None or base is None else f"{(value - base) / (accounts - 1):.3f}"


def report(venue: str, fills: int, base: Sample, rows: list[Sample]) -> None:
    print(f"venue {venue}; real producer process; RSS MiB; baseline = the same with 1 account")
    print(
        f"baseline: open {base.open_mib:.1f}, after {fills // 2} fills {base.half_mib:.1f} in flight, "
        f"{_mib(base.half_settled)} settled; after {fills} fills {base.full_mib:.1f} in flight, "
        f"{_mib(base.full_settled)} settled, {_mib(base.full_later)} {SETTLE_WINDOW_S:.0f} s later"
    )
    print(
        "| accounts | fills made | RSS open | RSS full settled | MiB/account open | MiB/account "
        f"{fills // 2} fills in flight / settled | MiB/account {fills} fills in flight / settled / "
        f"{SETTLE_WINDOW_S:.0f} s later | KB per fill per account ({fills // 2}->{fills}, settled) |"
    )
    print("|---:|---:|---:|---:|---:|---|---|---:|")
    for s in rows:
        n = s.accounts
        growth = "-"
        if s.full_settled is not None and s.half_settled is not None:
            growth = f"{(s.full_settled - s.half_settled) * 1024 / n / max(fills - fills // 2, 1):.2f}"
        half = [_per_account(getattr(s, f), getattr(base, f), n) for f in ("half_mib", "half_settled")]
        full = [
            _per_account(getattr(s, f), getattr(base, f), n)
            for f in ("full_mib", "full_settled", "full_later")
        ]
        print(
            f"| {n} | {s.fills} | {s.open_mib:.1f} | {_mib(s.full_settled)} | "
            f"{_per_account(s.open_mib, base.open_mib, n)} | {' / '.join(half)} | "
            f"{' / '.join(full)} | {growth} |"
        )
    if base.trimmed is not None:
        print("after settling and malloc_trim(0) at each point: MiB/account open | half | full")
        for s in rows:
            if s.trimmed is not None:
                per = [_per_account(t, b, s.accounts) for t, b in zip(s.trimmed, base.trimmed, strict=True)]
                print(f"| {s.accounts} | {per[0]} | {per[1]} | {per[2]} |")
    if len(base.glibc) != 3:
        return
    print("glibc and pymalloc at rest (before any trim): MiB per extra account at open / half / full")
    print("| accounts | " + " | ".join(label for _, label in GLIBC_COLUMNS) + " |")
    print("|---:|" + "---|" * len(GLIBC_COLUMNS))
    for s in rows:
        if len(s.glibc) != 3:
            continue
        cells = []
        for key, _ in GLIBC_COLUMNS:
            if key not in base.glibc[0]:
                cells.append("-")
                continue
            cells.append(
                " / ".join(
                    _per_account(v[key] / MIB, b[key] / MIB, s.accounts)
                    for v, b in zip(s.glibc, base.glibc, strict=True)
                )
            )
        print(f"| {s.accounts} | " + " | ".join(cells) + " |")


STEADY_COLUMNS = (
    ("live", "pymalloc live"),
    ("pymalloc_arenas", "pymalloc arenas"),
    ("arena", "sbrk heap"),
    ("fordblks", "glibc free"),
)
"""What the *steady* table shows of ``GLIBC_COLUMNS`` beside RSS, MiB per extra account."""


def steady_rows(base: Sample, rows: list[Sample]) -> list[str]:
    """The *steady* point's table (``--linger``): MiB per extra account of RSS, of RSS after
    ``malloc_trim(0)`` and of ``STEADY_COLUMNS``, "-" where not measured; no lines without it."""
    if base.steady is None:
        return []
    linger_s = base.steady.linger_s
    lines = [
        f"steady, {linger_s:.0f} s after full: MiB per extra account",
        "| accounts | RSS | after malloc_trim(0) | "
        + " | ".join(label for _, label in STEADY_COLUMNS)
        + " |",
        "|---:|---:|---:|" + "---:|" * len(STEADY_COLUMNS),
    ]
    for s in rows:
        if s.steady is None:
            continue
        n, b = s.accounts, base.steady
        cells = [_per_account(s.steady.rss, b.rss, n), _per_account(s.steady.trimmed, b.trimmed, n)]
        for key, _ in STEADY_COLUMNS:
            cells.append(_per_account(_view_mib(s.steady.view, key), _view_mib(b.view, key), n))
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return lines


def _view_mib(view: dict[str, float] | None, key: str) -> float | None:
    return None if view is None or key not in view else view[key] / MIB


async def run(
    venue: str,
    counts: list[int],
    fills: int,
    seed: int,
    arenas: bool,
    trace: int,
    trim: bool,
    linger_s: float,
    inflight: bool = False,
) -> None:
    print(f"seed {seed}")
    base = await measure(venue, 1, fills, seed, arenas, trace, trim, linger_s, inflight)
    rows = []
    for n in counts:
        rows.append(await measure(venue, n, fills, seed, arenas, trace, trim, linger_s, inflight))
        print(f"  measured {n} accounts", flush=True)
    report(venue, fills, base, rows)
    for line in steady_rows(base, rows):
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--venue", default="kraken", choices=sorted(FILL_CHANNEL))
    parser.add_argument("--counts", default="10,100,1000")
    parser.add_argument("--fills", type=int, default=300, help="fills per account (measured at half and all)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--arenas", action="store_true", help="print pymalloc arenas at each point")
    parser.add_argument("--trace", type=int, default=0, help="print the N lines that grew most (tracemalloc)")
    parser.add_argument(
        "--trim", action="store_true", help="at each point call malloc_trim(0) and print RSS before/after"
    )
    parser.add_argument(
        "--linger",
        type=float,
        default=LINGER_S,
        help=f"seconds idle after the full point before the steady one ({LINGER_S:.0f}; 0: none)",
    )
    parser.add_argument(
        "--inflight", action="store_true", help="print what the producer held in flight between points"
    )
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    arenas = args.arenas or args.trace > 0 or args.trim or args.inflight
    options = (args.trace, args.trim, args.linger, args.inflight)
    asyncio.run(run(args.venue, counts, args.fills, args.seed, arenas, *options))


if __name__ == "__main__":
    main()
