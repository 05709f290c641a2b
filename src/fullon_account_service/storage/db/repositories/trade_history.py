"""Reading what ``save_trades`` needs from stored trades, in one round trip per batch.

- ``existing_keys``: which (ex_trade_id, ex_order_id) of a batch are stored already;
- ``books_before``, for symbols that cannot continue from their checkpoint (``trade_books``):
  per (ex_id, symbol), the open FIFO lots just before a start time and the
  stored rows from that time on. The rows before it are read newest first, a short page per
  symbol (every symbol of the batch in one statement), growing only for the symbols whose
  open lots reach further back. Each page ends on a whole millisecond, so rows sharing a time
  are put in order in Python and the database's string collation never matters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Row, Table, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from fullon_account_service.ledger.booked import PNL_FIELDS
from fullon_account_service.ledger.checkpoint import restore
from fullon_account_service.ledger.fifo import FifoBook
from fullon_account_service.ledger.fills import Fill, GroupKey
from fullon_account_service.storage.db.models import Trade

FIRST_PAGE_ROWS = 16
MAX_KEYS_PER_STATEMENT = 10_000

TABLE = cast(Table, Trade.__table__)
C = TABLE.c
FILL_FIELDS = Fill.__struct_fields__
READ_COLUMNS = (C.trade_id, *(C[name] for name in FILL_FIELDS), *(C[name] for name in PNL_FIELDS))

_PG_EXISTING = text(
    "SELECT t.ex_trade_id, t.ex_order_id FROM trades AS t "
    "JOIN unnest(CAST(:trade_ids AS VARCHAR[]), CAST(:order_ids AS VARCHAR[])) AS k(trade_id, order_id) "
    "ON t.ex_trade_id = k.trade_id AND t.ex_order_id = k.order_id"
)
"""PostgreSQL plans a long IN list of pairs as a scan; joining an unnested array uses the key."""


def stored_fill(row: Row[Any]) -> Fill:
    """The fill of a stored row (``Fill.from_stored``)."""
    return Fill.from_stored({name: getattr(row, name) for name in FILL_FIELDS})


async def existing_keys(session: AsyncSession, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    postgres = session.get_bind().dialect.name == "postgresql"
    for start in range(0, len(keys), MAX_KEYS_PER_STATEMENT):
        chunk = keys[start : start + MAX_KEYS_PER_STATEMENT]
        if postgres:
            params = {"trade_ids": [k[0] for k in chunk], "order_ids": [k[1] for k in chunk]}
            result = await session.execute(_PG_EXISTING, params)
        else:
            result = await session.execute(
                select(C.ex_trade_id, C.ex_order_id).where(tuple_(C.ex_trade_id, C.ex_order_id).in_(chunk))
            )
        found.update((row[0], row[1]) for row in result)
    return found


_GROUPS = {
    "postgresql": "SELECT * FROM unnest(CAST(:ex_ids AS INTEGER[]), CAST(:symbols AS VARCHAR[]), "
    "CAST(:starts AS BIGINT[])) AS g(ex_id, symbol, start_ms)",
    "sqlite": "SELECT json_extract(value, '$[0]') AS ex_id, json_extract(value, '$[1]') AS symbol, "
    "json_extract(value, '$[2]') AS start_ms FROM json_each(:groups)",
}
_BOUNDS = (
    "WITH g AS ({groups}), "
    "b AS {materialized}(SELECT g.ex_id, g.symbol, COALESCE((SELECT h.time_ms FROM trades AS h "
    "WHERE h.ex_id = g.ex_id AND h.symbol = g.symbol AND h.time_ms < g.start_ms "
    "ORDER BY h.time_ms DESC LIMIT 1 OFFSET :skip), -1) AS bound FROM g) "
)
_TAILS = {
    "postgresql": _BOUNDS + "SELECT {columns} FROM b CROSS JOIN LATERAL (SELECT * FROM trades AS t "
    "WHERE t.ex_id = b.ex_id AND t.symbol = b.symbol AND t.time_ms >= b.bound "
    "ORDER BY t.time_ms OFFSET 0) AS t",
    "sqlite": _BOUNDS + "SELECT {columns} FROM b JOIN trades AS t "
    "ON t.ex_id = b.ex_id AND t.symbol = b.symbol AND t.time_ms >= b.bound",
}
"""Per group, every row from its start on plus the ``skip + 1`` newest before it (extended to
whole milliseconds): one constant statement for any number of groups, each an index range scan.

On PostgreSQL the bounds are materialised and the rows read through a fenced LATERAL subquery:
with statistics taken while the table was small (a fresh database filling up) the planner
otherwise flattens the join into a scan of the whole table that evaluates the bound per row."""
_TAIL_STATEMENTS = {
    dialect: text(
        tail.format(
            groups=_GROUPS[dialect],
            materialized="MATERIALIZED " if dialect == "postgresql" else "",
            columns=", ".join(f"t.{c.name}" for c in READ_COLUMNS),
        )
    )
    for dialect, tail in _TAILS.items()
}


async def _tails(
    session: AsyncSession, starts: Mapping[GroupKey, int], limit: int | None
) -> dict[GroupKey, list[Row[Any]]]:
    """``limit`` None: every row of each group."""
    rows: dict[GroupKey, list[Row[Any]]] = {key: [] for key in starts}
    dialect = session.get_bind().dialect.name
    groups = [(ex_id, symbol, -1 if limit is None else start) for (ex_id, symbol), start in starts.items()]
    params: dict[str, Any] = {"skip": 0 if limit is None else limit - 1}
    if dialect == "postgresql":
        params.update(
            ex_ids=[g[0] for g in groups], symbols=[g[1] for g in groups], starts=[g[2] for g in groups]
        )
    else:
        params["groups"] = json.dumps(groups)
    for row in (await session.execute(_TAIL_STATEMENTS[dialect], params)).all():
        rows[(row.ex_id, row.symbol)].append(row)
    return rows


def _order(row: Row[Any]) -> tuple[int, str, str]:
    return (row.time_ms, row.ex_trade_id, row.ex_order_id)


async def books_before(
    session: AsyncSession, starts: Mapping[GroupKey, int]
) -> dict[GroupKey, tuple[FifoBook, list[Row[Any]]]]:
    """Per group: the book just before its start time and its stored rows from then on.

    A group with rows lacking PnL (written by another tool) is replayed from its first fill.
    """
    books: dict[GroupKey, tuple[FifoBook, list[Row[Any]]]] = {}
    pending = dict(starts)
    limit = FIRST_PAGE_ROWS
    while pending:
        retry: dict[GroupKey, int] = {}
        from_scratch: dict[GroupKey, int] = {}
        for key, rows in (await _tails(session, pending, limit)).items():
            start = pending[key]
            history = sorted((row for row in rows if row.time_ms < start), key=_order, reverse=True)
            if any(row.cur_volume is None for row in history):
                from_scratch[key] = start
                continue
            book = restore(key[1], history, len(history) < limit, stored_fill)
            if book is None:
                retry[key] = start
            else:
                books[key] = (book, [row for row in rows if row.time_ms >= start])
        if from_scratch:
            for key, rows in (await _tails(session, from_scratch, None)).items():
                books[key] = (FifoBook(key[1]), rows)
        pending = retry
        limit *= 8
    return books
