"""FIFO checkpoints (``trade_books``): where the PnL of a symbol's next fills starts from.

One row per (ex_id, symbol) holds the open lots after the newest fill stored and that fill's
sort key. ``save_trades`` writes it in the transaction that stores the fills, under the symbol's
lock, so a committed checkpoint always describes exactly the fills committed with it.

``read_checkpoints`` also looks at the stored rows from each checkpoint's millisecond on. A row
past the checkpoint's key was not written through it (another tool, or a database restored from
a backup): the caller then rebuilds that symbol from the stored trades from that row's time
instead of trusting the checkpoint. Rows older than the checkpoint are trusted as counted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import msgspec
from sqlalchemy import Table, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from fullon_account_service.ledger.checkpoint import decode_lots, encode_lots
from fullon_account_service.ledger.fifo import FifoBook
from fullon_account_service.ledger.fills import GroupKey, SortKey
from fullon_account_service.storage.db.models import TradeBook

TABLE = cast(Table, TradeBook.__table__)
_ENCODE = msgspec.json.Encoder()


@dataclass(slots=True)
class Checkpoint:
    """A symbol's open lots after the fill keyed ``last``; ``behind_from`` is the time of the
    earliest stored row past ``last`` (None when there is none: the checkpoint covers them all)."""

    last: SortKey
    lots: str
    behind_from: int | None = None
    tail_rows: int = 0

    def saw(self, key: SortKey) -> None:
        self.tail_rows += 1
        if key > self.last and (self.behind_from is None or key[0] < self.behind_from):
            self.behind_from = key[0]

    def book(self, symbol: str) -> FifoBook:
        return decode_lots(symbol, self.lots)


def checkpoint_row(ex_id: int, symbol: str, last: SortKey, book: FifoBook) -> dict[str, Any]:
    return {
        "ex_id": ex_id,
        "symbol": symbol,
        "last_time_ms": last[0],
        "last_ex_trade_id": last[1],
        "last_ex_order_id": last[2],
        "volume": book.volume,
        "lots": encode_lots(book),
    }


TAIL_ROWS = 64
"""Stored rows read per checkpoint from its millisecond on; a full page means the checkpoint may
be behind (or is followed by a burst of same-millisecond fills): the symbol is rebuilt."""
_GROUPS = {
    "postgresql": "SELECT * FROM unnest(CAST(:ex_ids AS INTEGER[]), CAST(:symbols AS VARCHAR[])) "
    "AS g(ex_id, symbol)",
    "sqlite": "SELECT json_extract(value, '$[0]') AS ex_id, json_extract(value, '$[1]') AS symbol "
    "FROM json_each(:groups)",
}
_TAILS = {
    "postgresql": "LEFT JOIN LATERAL (SELECT time_ms, ex_trade_id, ex_order_id FROM trades "
    "WHERE ex_id = b.ex_id AND symbol = b.symbol AND time_ms >= b.last_time_ms "
    f"ORDER BY time_ms LIMIT {TAIL_ROWS}) AS t ON true",
    "sqlite": "LEFT JOIN trades AS t "
    "ON t.ex_id = b.ex_id AND t.symbol = b.symbol AND t.time_ms >= b.last_time_ms",
}
"""PostgreSQL reads the rows through a LATERAL subquery so that it always probes the
(ex_id, symbol, time_ms) index per checkpoint: as a plain join, statistics taken while the table
was small make the planner scan every stored trade for each checkpoint."""
_READ = (
    "WITH g AS ({groups}) "
    "SELECT b.ex_id, b.symbol, b.last_time_ms, b.last_ex_trade_id, b.last_ex_order_id, b.lots, "
    "t.time_ms, t.ex_trade_id, t.ex_order_id "
    "FROM g JOIN trade_books AS b ON b.ex_id = g.ex_id AND b.symbol = g.symbol {tails}"
)
"""Whole milliseconds from the checkpoint on: the key order within one is decided in Python, so
the database's string collation never matters. Normally one row per symbol, its last fill."""
_READS = {dialect: text(_READ.format(groups=_GROUPS[dialect], tails=_TAILS[dialect])) for dialect in _TAILS}

PG_UPSERT = (
    "INSERT INTO trade_books (ex_id, symbol, last_time_ms, last_ex_trade_id, last_ex_order_id, volume, lots) "
    "SELECT * FROM json_to_recordset(CAST(:books AS JSON)) AS r(ex_id INTEGER, symbol VARCHAR, "
    "last_time_ms BIGINT, last_ex_trade_id VARCHAR, last_ex_order_id VARCHAR, volume DOUBLE PRECISION, "
    "lots TEXT) "
    "ON CONFLICT (ex_id, symbol) DO UPDATE SET last_time_ms = EXCLUDED.last_time_ms, "
    "last_ex_trade_id = EXCLUDED.last_ex_trade_id, last_ex_order_id = EXCLUDED.last_ex_order_id, "
    "volume = EXCLUDED.volume, lots = EXCLUDED.lots"
)
"""The checkpoint upsert, a whole batch bound as one JSON document (``:books``)."""
_PG_UPSERT = text(PG_UPSERT)


async def read_checkpoints(session: AsyncSession, groups: Iterable[GroupKey]) -> dict[GroupKey, Checkpoint]:
    """The checkpoints of ``groups`` that have one; call it holding the groups' locks."""
    keys = list(groups)
    if not keys:
        return {}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        params: dict[str, Any] = {"ex_ids": [k[0] for k in keys], "symbols": [k[1] for k in keys]}
    else:
        params = {"groups": json.dumps(keys)}
    found: dict[GroupKey, Checkpoint] = {}
    for row in (await session.execute(_READS[dialect], params)).all():
        ex_id, symbol, last_ms, last_trade, last_order, lots, time_ms, trade, order = row
        checkpoint = found.get((ex_id, symbol))
        if checkpoint is None:
            checkpoint = found[(ex_id, symbol)] = Checkpoint((last_ms, last_trade, last_order), lots)
        if time_ms is not None:
            checkpoint.saw((time_ms, trade, order))
    for checkpoint in found.values():
        if checkpoint.tail_rows >= TAIL_ROWS:
            checkpoint.behind_from = checkpoint.last[0]
    return found


async def write_checkpoints(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_PG_UPSERT, {"books": _ENCODE.encode(rows).decode()})
        return
    stmt = sqlite.insert(TABLE)
    excluded = {name: stmt.excluded[name] for name in rows[0] if name not in ("ex_id", "symbol")}
    await session.execute(stmt.on_conflict_do_update(index_elements=["ex_id", "symbol"], set_=excluded), rows)
