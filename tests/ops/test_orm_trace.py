"""The ORM sink's bench trace (``bench/orm_trace``) writes one line per batch with every stage's
time, only in the ``sink --group orm`` process, and its report reads them back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
TESTS = Path(__file__).resolve().parents[1]
SCRIPT = """
import asyncio, sys
import factories, sitecustomize
from sink_samples import envelope, reset_database
from fullon_account_service.sinks.accounts import KnownAccounts
from fullon_account_service.sinks.orm_sink import OrmSink
from fullon_account_service.storage.db import make_engine, make_session_factory

async def main(url, trace):
    await reset_database(url)
    assert not sitecustomize._is_orm_sink(["fullon-account", "sink", "--group", "cache"])
    assert sitecustomize._is_orm_sink(["fullon-account", "sink", "--group", "orm", "--consumer", "x"])
    sitecustomize._install(trace)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    sink = OrmSink(factory, KnownAccounts(factory))
    orders = [envelope(factories.order(f"V-{i}")) for i in range(3)]
    fills = [envelope(factories.fill(f"t-{i}")) for i in range(2)]
    await sink.handle(factories.deliveries(orders + fills))
    await engine.dispose()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def test_one_line_per_batch_with_each_stage_and_a_report(tmp_path: Path) -> None:
    trace = tmp_path / "orm.jsonl"
    path = f"{BENCH / 'orm_trace'}:{TESTS}"
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    env = {"PYTHONPATH": path, "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", SCRIPT, url, str(trace)], check=True, env=env, timeout=300)
    [batch] = [json.loads(line) for line in trace.read_text().splitlines()]
    assert batch["size"] == 5 and batch["ok"] is True and batch["bus_min"] == 1
    for stage in ("orders", "trades", "trade_locks", "checkpoints", "trade_write", "ledger", "commit"):
        assert batch[stage] >= 0.0, stage
    assert batch["end"] >= batch["start"] + batch["orders"] + batch["trades"] + batch["commit"] - 1
    report = subprocess.run(
        [sys.executable, str(BENCH / "orm_trace_report.py"), str(trace)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert report.startswith("1 batches (0 failed, 0 prepared ahead)")
    assert "trade_write" in report and "slowest handler calls" in report
