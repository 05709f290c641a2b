"""Sending a ``BatchPlan`` to the database: new trades, changed PnL, new checkpoints.

PostgreSQL gets the inserts and the checkpoints in one statement (two data-modifying CTEs), each
batch bound as one JSON document: the statement text is constant, so asyncpg prepares it once, and
msgspec encodes a batch far faster than asyncpg encodes two dozen typed arrays. Floats travel as
their shortest round-trip text, so they arrive exact; ``time`` is derived from ``time_ms`` in
integer arithmetic, as the naive UTC timestamp fullon's schema holds. SQLite gets an executemany per
table, which SQLAlchemy packs into multi-row statements. Both say how many rows were inserted: ``ON
CONFLICT DO NOTHING`` skips a fill stored already, and the caller must know when that happened.
"""

from __future__ import annotations

import msgspec
from sqlalchemy import bindparam, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.ext.asyncio import AsyncSession

from fullon_account_service.ledger.booked import PNL_FIELDS, BookedFill
from fullon_account_service.storage.db.column_types import utc_from_ms
from fullon_account_service.storage.db.repositories.trade_books import PG_UPSERT, write_checkpoints
from fullon_account_service.storage.db.repositories.trade_history import TABLE, C
from fullon_account_service.storage.db.repositories.trade_plan import BatchPlan

_PG = PGDialect()  # type: ignore[no-untyped-call]
_PG_TYPES = {name: C[name].type.compile(dialect=_PG) for name in BookedFill.__struct_fields__}
"""The row's columns with the model's PostgreSQL types: a column added to ``Fill`` and to the
model reaches the insert without another edit."""
_PG_WRITE = text(
    "WITH inserted AS ("
    f"INSERT INTO trades ({', '.join(_PG_TYPES)}, time) "
    f"SELECT {', '.join(f'r.{n}' for n in _PG_TYPES)}, "
    "TIMESTAMP 'epoch' + r.time_ms * INTERVAL '1 millisecond' "
    "FROM json_to_recordset(CAST(:rows AS JSON)) "
    f"AS r({', '.join(f'{n} {t}' for n, t in _PG_TYPES.items())}) "
    "ON CONFLICT (ex_trade_id, ex_order_id) DO NOTHING RETURNING 1), "
    f"books AS ({PG_UPSERT}) "
    "SELECT count(*) FROM inserted"
)
_UPDATE = (
    update(TABLE)
    .where(C.trade_id == bindparam("v_trade_id"))
    .values({name: bindparam(f"v_{name}") for name in PNL_FIELDS})
)


async def write_plan(session: AsyncSession, plan: BatchPlan) -> int:
    """Write ``plan``; how many of its rows were inserted."""
    if plan.updates:
        await session.execute(_UPDATE, plan.updates)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        if not plan.inserts and not plan.books:
            return 0
        rows, books = plan.as_json()
        return int((await session.execute(_PG_WRITE, {"rows": rows, "books": books})).scalar_one())
    if dialect != "sqlite":
        raise NotImplementedError(f"trade writes need PostgreSQL or SQLite, not {dialect}")
    inserted = await _sqlite_insert(session, plan.inserts)
    await write_checkpoints(session, plan.books)
    return inserted


async def _sqlite_insert(session: AsyncSession, trades: list[msgspec.Struct]) -> int:
    if not trades:
        return 0
    rows = [msgspec.structs.asdict(trade) for trade in trades]
    for row in rows:
        row["time"] = utc_from_ms(row["time_ms"])
    stmt = (
        sqlite.insert(TABLE)
        .on_conflict_do_nothing(index_elements=["ex_trade_id", "ex_order_id"])
        .returning(C.trade_id)
    )
    return len((await session.execute(stmt, rows)).all())
