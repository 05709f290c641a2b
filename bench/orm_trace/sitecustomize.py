"""Per-batch timings of the ORM sink in a bench run, without touching the product's code.

    ORM_TRACE=/tmp/orm.jsonl PYTHONPATH=$PWD/bench/orm_trace uv run python bench/e2e.py ...
    uv run python bench/orm_trace_report.py /tmp/orm.jsonl

Python imports ``sitecustomize`` from ``PYTHONPATH`` at start-up, and the bench's processes
inherit its environment (hence an absolute path: they run in another directory). With
``ORM_TRACE`` set, the ``fullon-account sink --group orm`` process wraps ``OrmSink.handle``, the
three repositories' writes and the session's commit, and appends one JSON line per batch handed
to the sink: wall times (ms since the epoch) of the handler's start and end, the bus time of its
oldest entry (the entry id's milliseconds), the batch's size, whether it was prepared ahead, and
the milliseconds spent in each write (the trades' split into the symbols' locks, the checkpoint
read and the write itself). Every other process is left alone.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

Method = Callable[..., Awaitable[Any]]
_batch: dict[str, Any] | None = None


def _now_ms() -> float:
    return time.time() * 1000.0


def _timed(name: str, method: Method) -> Method:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await method(*args, **kwargs)
        finally:
            if _batch is not None:
                _batch[name] = _batch.get(name, 0.0) + (time.perf_counter() - start) * 1000.0

    return wrapper


def _install(path: str) -> None:
    from sqlalchemy.ext.asyncio import AsyncSession

    from fullon_account_service.sinks.orm_sink import OrmSink
    from fullon_account_service.storage.db.repositories import trades
    from fullon_account_service.storage.db.repositories.ledger import LedgerRepository
    from fullon_account_service.storage.db.repositories.orders import OrderRepository
    from fullon_account_service.storage.db.repositories.trades import TradeRepository

    out = open(path, "a", buffering=1)  # noqa: SIM115 - open for the life of the process
    handle = OrmSink.handle

    async def traced_handle(self: OrmSink, deliveries: Any) -> None:
        global _batch
        batch: dict[str, Any] = {
            "start": _now_ms(),
            "size": len(deliveries),
            "bus_min": min(int(d.entry_id.split("-")[0]) for d in deliveries),
            "prepared": self._prepared is not None and self._prepared.deliveries is deliveries,
        }
        _batch = batch
        try:
            await handle(self, deliveries)
            batch["ok"] = True
        finally:
            batch["end"] = _now_ms()
            _batch = None
            out.write(json.dumps(batch) + "\n")

    OrmSink.handle = traced_handle  # type: ignore[method-assign]
    OrderRepository.save_orders = _timed("orders", OrderRepository.save_orders)  # type: ignore[method-assign]
    TradeRepository.save_trades = _timed("trades", TradeRepository.save_trades)  # type: ignore[method-assign]
    LedgerRepository.save_entries = _timed("ledger", LedgerRepository.save_entries)  # type: ignore[method-assign]
    AsyncSession.commit = _timed("commit", AsyncSession.commit)  # type: ignore[method-assign]
    # Inside ``trades``: the symbols' locks, the checkpoint read and the write of the plan.
    TradeRepository._lock = _timed("trade_locks", TradeRepository._lock)  # type: ignore[method-assign]
    trades.read_checkpoints = _timed("checkpoints", trades.read_checkpoints)  # type: ignore[assignment]
    trades.write_plan = _timed("trade_write", trades.write_plan)  # type: ignore[assignment]


def _is_orm_sink(argv: list[str]) -> bool:
    return "sink" in argv and any(a == "orm" or a == "--group=orm" for a in argv)


if (_path := os.environ.get("ORM_TRACE")) and _is_orm_sink(sys.argv):
    _install(_path)
