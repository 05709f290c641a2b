"""What else the machine and the database were doing during a benchmark run.

Benchmarks on a shared 2-core VM spread widely; these figures say why a run was slow: the CPU left
idle (``cpu_idle``: near 0 % means every core was busy, with this run or with other jobs), the
load average, and the dead rows in the tables a bench fills and empties. PostgreSQL keeps a
deleted row until a vacuum removes it, and until then every index lookup on the table may visit
it: the ORM sink's duplicate checks and checkpoint reads slow down run after run in the same
database (``vacuum`` puts the tables back before each run).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from e2e_stack import cpu_s

BENCH_TABLES = ("trades", "trade_books", "orders", "exchanges", "users")


@dataclass(frozen=True)
class CpuTimes:
    idle: int
    steal: int
    total: int

    @classmethod
    def now(cls) -> CpuTimes:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return cls(idle=fields[3] + fields[4], steal=fields[7] if len(fields) > 7 else 0, total=sum(fields))


def cpu_since(start: CpuTimes) -> str:
    """``idle X %, steal Y %, load L`` since ``start``, over all cores."""
    end = CpuTimes.now()
    total = max(1, end.total - start.total)
    idle, steal = 100 * (end.idle - start.idle) / total, 100 * (end.steal - start.steal) / total
    return f"cpu idle {idle:.0f} %, steal {steal:.0f} %, load average {os.getloadavg()[0]:.2f}"


async def dead_rows(engine: AsyncEngine) -> str:
    """Live and dead rows of the bench's tables (PostgreSQL's statistics; empty elsewhere)."""
    if engine.dialect.name != "postgresql":
        return ""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT relname, n_live_tup, n_dead_tup FROM pg_stat_user_tables WHERE relname = ANY(:t)"),
            {"t": list(BENCH_TABLES)},
        )
        return ", ".join(f"{name} {live:,} live/{dead:,} dead" for name, live, dead in sorted(rows.all()))


async def vacuum(engine: AsyncEngine) -> None:
    """``VACUUM ANALYZE`` the bench's tables: every run starts without the dead rows of the last."""
    if engine.dialect.name != "postgresql":
        return
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f"VACUUM ANALYZE {', '.join(BENCH_TABLES)}"))


async def backends_cpu_s(engine: AsyncEngine) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving the engine's database, by pid (the
    server on this host, read from ``/proc``; empty elsewhere). The bench's database is its own, so
    the sum over a drain is what the server spent on the sink's statements."""
    if engine.dialect.name != "postgresql":
        return {}
    async with engine.connect() as conn:
        pids = (
            await conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"))
        ).all()
    out: dict[int, float] = {}
    for (pid,) in pids:
        try:
            out[pid] = cpu_s(pid)
        except OSError:
            continue
    return out
