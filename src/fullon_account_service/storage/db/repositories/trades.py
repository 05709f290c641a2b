"""Trades: inserted once per (ex_trade_id, ex_order_id), with FIFO PnL kept right on every insert.

``save_trades`` works per (ex_id, symbol) touched by the batch:

1. lock the symbol for the transaction (``pg_advisory_xact_lock`` on PostgreSQL, taken in key
   order so two sinks cannot deadlock; SQLite serialises writers once a write has begun, so a
   no-op write takes its lock first);
2. find which fills of the batch are new: already stored ones are left alone (idempotence);
3. rebuild the open lots as they stood just before the earliest new fill, from the stored rows
   before it (``pnl.restore``: it walks back only as far as the open lots reach), then replay
   every fill from that point, stored and new, in ``(time_ms, ex_trade_id, ex_order_id)`` order;
4. insert the new rows with their PnL columns and update stored rows whose PnL changed (only
   when a fill arrived older than fills already stored).

In-order arrival, the usual case, costs a lock, one existence check, one small history read and
one insert per symbol. Rows without PnL (written by another tool) make the symbol recompute from
its first fill. Nothing commits here: the ORM sink commits orders and trades together.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, desc, false, func, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from fullon_account_service.contract.events import TradeFill
from fullon_account_service.sinks.pnl import FifoBook, Fill, PnlRow, StoredFill, compute, restore
from fullon_account_service.storage.db.column_types import utc_from_ms
from fullon_account_service.storage.db.errors import translating
from fullon_account_service.storage.db.models import Trade

_MAX_BIND_PARAMS = 30_000
_FIRST_HISTORY_ROWS = 64
_INSERTS: dict[str, Callable[[Table], Any]] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
_PNL_FIELDS = PnlRow.__slots__
_TABLE = cast(Table, Trade.__table__)
_C = _TABLE.c
_READ_COLUMNS = (
    _C.trade_id,
    _C.ex_trade_id,
    _C.ex_order_id,
    _C.time_ms,
    _C.side,
    _C.volume,
    _C.price,
    _C.fee,
    _C.fee_currency,
    _C.leverage,
    *(_C[name] for name in _PNL_FIELDS),
)


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One fill as the ORM sink hands it to ``save_trades``."""

    ex_id: int
    uid: int
    exchange: str
    ex_trade_id: str
    ex_order_id: str
    symbol: str
    side: str
    volume: float
    price: float
    cost: float
    time_ms: int
    fee: float | None = None
    fee_currency: str | None = None
    leverage: float | None = None
    order_type: str | None = None
    liquidity: str | None = None
    event_id: str | None = None

    @classmethod
    def from_fill(
        cls, fill: TradeFill, *, ex_id: int, uid: int, exchange: str, event_id: str | None = None
    ) -> TradeRecord:
        return cls(
            ex_id=ex_id,
            uid=uid,
            exchange=exchange,
            ex_trade_id=fill.ex_trade_id,
            ex_order_id=fill.ex_order_id,
            symbol=fill.symbol,
            side=fill.side.value,
            volume=fill.volume,
            price=fill.price,
            cost=fill.cost,
            time_ms=fill.time_ms,
            fee=fill.fee,
            fee_currency=fill.fee_currency,
            leverage=fill.leverage,
            order_type=fill.order_type,
            liquidity=None if fill.liquidity is None else fill.liquidity.value,
            event_id=event_id,
        )

    @property
    def key(self) -> tuple[str, str]:
        return (self.ex_trade_id, self.ex_order_id)

    def fill(self) -> Fill:
        return Fill(
            self.ex_trade_id,
            self.ex_order_id,
            self.time_ms,
            self.side,
            self.volume,
            self.price,
            self.fee,
            self.fee_currency,
            self.leverage,
        )

    def row(self, pnl: PnlRow) -> dict[str, Any]:
        values: dict[str, Any] = {
            "ex_trade_id": self.ex_trade_id,
            "ex_order_id": self.ex_order_id,
            "uid": self.uid,
            "ex_id": self.ex_id,
            "exchange": self.exchange,
            "symbol": self.symbol,
            "order_type": self.order_type,
            "side": self.side,
            "volume": self.volume,
            "price": self.price,
            "cost": self.cost,
            "fee": self.fee,
            "fee_currency": self.fee_currency,
            "liquidity": self.liquidity,
            "leverage": self.leverage,
            "time": utc_from_ms(self.time_ms),
            "time_ms": self.time_ms,
            "event_id": self.event_id,
        }
        values.update({name: getattr(pnl, name) for name in _PNL_FIELDS})
        return values


def lock_key(ex_id: int, symbol: str) -> int:
    """A stable signed 64-bit advisory-lock key for one (ex_id, symbol)."""
    digest = hashlib.blake2b(f"{ex_id}\x00{symbol}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _stored_fill(row: Row[Any]) -> Fill:
    return Fill(
        row.ex_trade_id,
        row.ex_order_id,
        row.time_ms,
        row.side.lower(),
        row.volume,
        row.price,
        row.fee,
        row.fee_currency,
        row.leverage,
    )


class TradeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @property
    def _dialect(self) -> str:
        return self._session.get_bind().dialect.name

    async def save_trades(self, records: Sequence[TradeRecord]) -> int:
        """Insert the new fills of a batch and bring PnL up to date; how many were new."""
        unique = list({record.key: record for record in reversed(records)}.values())
        if not unique:
            return 0
        groups: defaultdict[tuple[int, str], list[TradeRecord]] = defaultdict(list)
        async with translating("save trades"):
            await self._lock(sorted({(r.ex_id, r.symbol) for r in unique}))
            stored = await self._existing_keys([r.key for r in unique])
            for record in unique:
                if record.key not in stored:
                    groups[(record.ex_id, record.symbol)].append(record)
            inserts: list[dict[str, Any]] = []
            updates: list[dict[str, Any]] = []
            for (ex_id, symbol), new in sorted(groups.items()):
                await self._replay(ex_id, symbol, new, inserts, updates)
            await self._insert(inserts)
            if updates:
                values: dict[str, Any] = {name: bindparam(f"v_{name}") for name in _PNL_FIELDS}
                stmt = update(_TABLE).where(_C.trade_id == bindparam("v_trade_id")).values(values)
                await self._session.execute(stmt, updates)
        return len(inserts)

    async def _lock(self, symbols: list[tuple[int, str]]) -> None:
        if self._dialect == "postgresql":
            keys = sorted({lock_key(ex_id, symbol) for ex_id, symbol in symbols})
            await self._session.execute(
                text(
                    "SELECT pg_advisory_xact_lock(k) FROM "
                    "(SELECT unnest(CAST(:keys AS BIGINT[])) AS k ORDER BY 1) AS ordered"
                ),
                {"keys": keys},
            )
        else:
            await self._session.execute(update(_TABLE).where(false()).values(trade_id=_C.trade_id))

    async def _existing_keys(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        step = _MAX_BIND_PARAMS // 2
        for start in range(0, len(keys), step):
            chunk = keys[start : start + step]
            result = await self._session.execute(
                select(_C.ex_trade_id, _C.ex_order_id).where(
                    tuple_(_C.ex_trade_id, _C.ex_order_id).in_(chunk)
                )
            )
            found.update((row[0], row[1]) for row in result)
        return found

    async def _replay(
        self,
        ex_id: int,
        symbol: str,
        new: list[TradeRecord],
        inserts: list[dict[str, Any]],
        updates: list[dict[str, Any]],
    ) -> None:
        start_ms = min(record.time_ms for record in new)
        book, later = await self._book_before(ex_id, symbol, start_ms)
        by_key = {record.key: record for record in new}
        stored_rows = {(row.ex_trade_id, row.ex_order_id): row for row in later}
        fills = [_stored_fill(row) for row in later] + [record.fill() for record in new]
        for fill, pnl in compute(symbol, fills, book):
            key = (fill.ex_trade_id, fill.ex_order_id)
            record = by_key.get(key)
            if record is not None:
                inserts.append(record.row(pnl))
                continue
            row = stored_rows[key]
            if any(getattr(row, name) != getattr(pnl, name) for name in _PNL_FIELDS):
                change = {f"v_{name}": getattr(pnl, name) for name in _PNL_FIELDS}
                change["v_trade_id"] = row.trade_id
                updates.append(change)

    async def _book_before(self, ex_id: int, symbol: str, start_ms: int) -> tuple[FifoBook, list[Row[Any]]]:
        """The open lots just before ``start_ms`` and the stored rows from ``start_ms`` on.

        History is read newest first in growing pages until ``restore`` has what it needs;
        each page ends on a whole millisecond so rows sharing a time are ordered in Python.
        """
        limit = _FIRST_HISTORY_ROWS
        while True:
            rows = await self._tail(ex_id, symbol, start_ms, limit)
            history = sorted(
                (row for row in rows if row.time_ms < start_ms),
                key=lambda r: (r.time_ms, r.ex_trade_id, r.ex_order_id),
                reverse=True,
            )
            later = [row for row in rows if row.time_ms >= start_ms]
            if any(row.cur_volume is None for row in history):
                return FifoBook(symbol), await self._tail(ex_id, symbol, -1, None)
            stored = [StoredFill(_stored_fill(row), row.cur_volume) for row in history]
            book = restore(symbol, stored, exhausted=len(history) < limit)
            if book is not None:
                return book, later
            limit *= 8

    async def _tail(self, ex_id: int, symbol: str, start_ms: int, limit: int | None) -> list[Row[Any]]:
        """Rows from ``start_ms`` on, plus the ``limit`` newest before it (whole milliseconds);
        ``limit`` None means every row of the symbol."""
        where = (_C.ex_id == ex_id, _C.symbol == symbol)
        if limit is None:
            stmt = select(*_READ_COLUMNS).where(*where)
        else:
            bound = (
                select(_C.time_ms)
                .where(*where, _C.time_ms < start_ms)
                .order_by(desc(_C.time_ms))
                .limit(1)
                .offset(limit - 1)
                .scalar_subquery()
            )
            stmt = select(*_READ_COLUMNS).where(*where, _C.time_ms >= func.coalesce(bound, -1))
        return list(await self._session.execute(stmt))

    async def _insert(self, rows: list[dict[str, Any]]) -> None:
        """One executemany: SQLAlchemy packs it into multi-row INSERTs with a cached statement."""
        if not rows:
            return
        make_insert = _INSERTS.get(self._dialect)
        if make_insert is None:
            raise NotImplementedError(f"trade insert needs PostgreSQL or SQLite, not {self._dialect}")
        stmt = make_insert(_TABLE).on_conflict_do_nothing(index_elements=["ex_trade_id", "ex_order_id"])
        await self._session.execute(stmt, rows)

    async def get_exchange_trades(self, exchange_id: int, limit: int = 100) -> list[Trade]:
        """Newest first, by exchange time."""
        async with translating("get exchange trades"):
            result = await self._session.execute(
                select(Trade)
                .where(Trade.ex_id == exchange_id)
                .order_by(desc(Trade.time_ms), desc(Trade.trade_id))
                .limit(limit)
            )
            return list(result.scalars())
