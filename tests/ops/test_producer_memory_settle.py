"""The memory bench calls a producer at rest from its ``/metrics`` page: what it publishes and the
frames it reads count as activity (summed over every label), a REST read that publishes nothing
does not, nor do the keepalive pongs of its accounts, and a non-empty buffer is work in flight.
The probe the producer runs under (a string) parses: a mistake in it shows only as a bench that
waits for statistics that never come."""

from __future__ import annotations

import ast
import os
import platform
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import redis.asyncio as aioredis  # noqa: E402
from prometheus_client import CollectorRegistry, generate_latest  # noqa: E402

from fullon_account_service.metrics.prometheus import PrometheusSensor  # noqa: E402
from producer_memory import (  # noqa: E402
    ARENA_PROBE,
    GLIBC_COLUMNS,
    KEEP_ENTRIES,
    MIB,
    PREFIX,
    Sample,
    Steady,
    busy,
    glibc_line,
    idle_state,
    keepalive_frames,
    log_events,
    steady_rows,
    trim_streams,
)


def _page(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def test_events_and_frames_move_the_idle_state_and_rest_reads_do_not() -> None:
    registry = CollectorRegistry()
    sensor = PrometheusSensor(registry)
    sensor.on_events_published("order", "kraken", 3)
    sensor.on_events_published("trade", "bybit", 2)
    counters, depth = idle_state(_page(registry))
    assert counters[0] == 5.0
    assert depth == 0.0

    sensor.on_rest_call("kraken", "fetch_balance")
    assert idle_state(_page(registry)) == (counters, depth)

    sensor.on_ws_frame("kraken", 0.001, 1)
    moved, _ = idle_state(_page(registry))
    assert moved != counters


def test_a_buffer_holding_entries_is_work_in_flight() -> None:
    registry = CollectorRegistry()
    sensor = PrometheusSensor(registry)
    sensor.on_buffer_depth("events", 4)
    sensor.on_buffer_depth("dead_letters", 1)
    assert idle_state(_page(registry))[1] == 5.0
    sensor.on_buffer_depth("events", 0)
    sensor.on_buffer_depth("dead_letters", 0)
    assert idle_state(_page(registry))[1] == 0.0


def test_the_probe_the_producer_runs_under_is_valid_python() -> None:
    ast.parse(ARENA_PROBE)


def test_keepalive_pongs_are_not_activity_and_a_backlog_of_frames_is() -> None:
    """100 idle Kraken accounts read ~17 pongs a second: a producer at rest must be able to
    settle, and one still reading a backlog (hundreds of frames a second) must not."""
    allowance = keepalive_frames("kraken", 100)
    pongs = 100 * 8.0 / 6.0
    assert pongs < allowance < 10 * pongs
    assert not busy((5.0, 1000.0), (5.0, 1000.0 + pongs), allowance)
    assert busy((5.0, 1000.0), (5.0, 1000.0 + 100 * 8.0), allowance)
    assert busy((5.0, 1000.0), (6.0, 1000.0), allowance)
    assert keepalive_frames("kraken", 1) >= 4 * 4, "one sampled pong must not count as activity"


async def test_the_bench_trims_its_streams_and_leaves_other_keys(redis_client: aioredis.Redis) -> None:
    stream, cursor = f"{PREFIX}trade", f"{PREFIX}cursor:1"
    await redis_client.set(cursor, "100@1")
    async with redis_client.pipeline(transaction=False) as pipe:
        for i in range(KEEP_ENTRIES * 3):
            pipe.xadd(stream, {"n": i})
        await pipe.execute()
    await trim_streams(redis_client)
    assert await redis_client.xlen(stream) < KEEP_ENTRIES * 3
    assert await redis_client.get(cursor) == b"100@1"


def test_the_producer_log_is_summed_up_by_event() -> None:
    lines = [
        "2026-12-03T09:22:06.822848Z [error    ] account in error               [fullon.x] ex_id=529",
        "2026-12-03T09:22:07.100000Z [warning  ] lease lost; stopping its accounts [fullon.y] lease=a",
        "2026-12-03T09:25:01.000000Z [error    ] account in error               [fullon.x] ex_id=558",
        "  a traceback line",
    ]
    assert log_events(lines) == [
        ("error account in error", 2, "2026-12-03T09:22:06.822848Z", "2026-12-03T09:25:01.000000Z"),
        (
            "warning lease lost; stopping its accounts",
            1,
            "2026-12-03T09:22:07.100000Z",
            "2026-12-03T09:22:07.100000Z",
        ),
    ]


def test_the_probe_reads_glibcs_view_of_this_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``glibc_view`` runs only inside the producer under the bench; here its definitions are taken
    from the probe's text and run in this process: every figure the bench prints is there."""
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("the probe reads glibc's allocator: the bench runs on glibc only")
    monkeypatch.setenv("BENCH_MALLOC_STATS", str(tmp_path / "stats"))
    tree = ast.parse(ARENA_PROBE)
    wanted = [
        n
        for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.Assign) and _named(n, {"MALLINFO2", "glibc_view"})
    ]
    namespace: dict[str, object] = {"os": os}
    exec(compile(ast.Module(body=wanted, type_ignores=[]), "probe", "exec"), namespace)
    view = namespace["glibc_view"]()  # type: ignore[operator]
    view.update(live=0.0, pymalloc_arenas=0.0)
    assert {key for key, _ in GLIBC_COLUMNS if not key.startswith("trimmed_")} <= view.keys()
    assert view["malloc_arenas"] >= 1 and view["threads"] >= 1
    assert view["rss_sbrk_heap"] + view["rss_anon"] + view["rss_file"] > 0
    assert "malloc arenas" in glibc_line(view)


def _named(node: ast.stmt, names: set[str]) -> bool:
    if isinstance(node, ast.FunctionDef):
        return node.name in names
    return any(isinstance(t, ast.Name) and t.id in names for t in getattr(node, "targets", ()))


def _sample(accounts: int, steady: Steady | None) -> Sample:
    return Sample(accounts, 100.0, 110.0, 120.0, 0, 105.0, 115.0, 115.0, steady=steady)


def test_the_steady_point_is_printed_per_extra_account_and_only_when_measured() -> None:
    view = {"live": 80 * MIB, "pymalloc_arenas": 84 * MIB, "arena": 50 * MIB, "fordblks": 5 * MIB}
    base = _sample(1, Steady(75.0, 160.0, 150.0, view))
    grown = {key: value + 99 * MIB / 2 for key, value in view.items()}
    rows = [_sample(100, Steady(75.0, 259.0, 200.0, grown)), _sample(10, Steady(75.0, 169.0))]
    lines = steady_rows(base, rows)
    assert lines[0] == "steady, 75 s after full: MiB per extra account"
    assert lines[3] == "| 100 | 1.000 | 0.505 | 0.500 | 0.500 | 0.500 | 0.500 |"
    assert lines[4] == "| 10 | 1.000 | - | - | - | - | - |"
    assert steady_rows(_sample(1, None), rows) == []
