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

In-order arrival, the usual case, costs one lock statement, one existence check, one history read
and one insert per batch, whatever the number of symbols (see ``trade_history``). Rows without
PnL (written by another tool) make the symbol recompute from its first fill. Nothing commits
here: the ORM sink commits orders and trades together.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Table, bindparam, desc, false, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from fullon_account_service.contract.events import TradeFill
from fullon_account_service.sinks.pnl import FifoBook, Fill, PnlRow, compute
from fullon_account_service.storage.db.column_types import utc_from_ms
from fullon_account_service.storage.db.errors import translating
from fullon_account_service.storage.db.models import Trade
from fullon_account_service.storage.db.repositories.trade_history import (
    TABLE,
    C,
    books_before,
    existing_keys,
    stored_fill,
)

_INSERTS: dict[str, Callable[[Table], Any]] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
_PNL_FIELDS = PnlRow.__slots__
_PG_TYPES = {
    **dict.fromkeys(("ex_trade_id", "ex_order_id", "exchange", "symbol", "order_type", "side"), "VARCHAR"),
    **dict.fromkeys(("fee_currency", "liquidity", "event_id"), "VARCHAR"),
    **dict.fromkeys(("uid", "ex_id"), "INTEGER"),
    **dict.fromkeys(("volume", "price", "cost", "fee", "leverage", *_PNL_FIELDS), "DOUBLE PRECISION"),
    "time": "TIMESTAMPTZ",
    "time_ms": "BIGINT",
}
_PG_INSERT = text(
    f"INSERT INTO trades ({', '.join(_PG_TYPES)}) "
    f"SELECT * FROM unnest({', '.join(f'CAST(:{n} AS {t}[])' for n, t in _PG_TYPES.items())}) "
    "ON CONFLICT (ex_trade_id, ex_order_id) DO NOTHING"
)
"""Arrays bind as 25 parameters however many rows: asyncpg prepares the statement once."""


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
            stored = await existing_keys(self._session, [r.key for r in unique])
            for record in unique:
                if record.key not in stored:
                    groups[(record.ex_id, record.symbol)].append(record)
            starts = {key: min(r.time_ms for r in new) for key, new in groups.items()}
            books = await books_before(self._session, starts)
            inserts: list[dict[str, Any]] = []
            updates: list[dict[str, Any]] = []
            for key, new in groups.items():
                book, later = books[key]
                self._replay(key[1], new, book, later, inserts, updates)
            await self._insert(inserts)
            if updates:
                values: dict[str, Any] = {name: bindparam(f"v_{name}") for name in _PNL_FIELDS}
                stmt = update(TABLE).where(C.trade_id == bindparam("v_trade_id")).values(values)
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
            await self._session.execute(update(TABLE).where(false()).values(trade_id=C.trade_id))

    def _replay(
        self,
        symbol: str,
        new: list[TradeRecord],
        book: FifoBook,
        later: list[Row[Any]],
        inserts: list[dict[str, Any]],
        updates: list[dict[str, Any]],
    ) -> None:
        by_key = {record.key: record for record in new}
        stored_rows = {(row.ex_trade_id, row.ex_order_id): row for row in later}
        fills = [stored_fill(row) for row in later] + [record.fill() for record in new]
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

    async def _insert(self, rows: list[dict[str, Any]]) -> None:
        """PostgreSQL: one INSERT .. SELECT FROM unnest(arrays), a constant statement whatever the
        batch size; SQLite: an executemany that SQLAlchemy packs into multi-row INSERTs."""
        if not rows:
            return
        if self._dialect == "postgresql":
            await self._session.execute(_PG_INSERT, {name: [row[name] for row in rows] for name in _PG_TYPES})
            return
        make_insert = _INSERTS.get(self._dialect)
        if make_insert is None:
            raise NotImplementedError(f"trade insert needs PostgreSQL or SQLite, not {self._dialect}")
        stmt = make_insert(TABLE).on_conflict_do_nothing(index_elements=["ex_trade_id", "ex_order_id"])
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
