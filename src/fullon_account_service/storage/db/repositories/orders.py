"""Orders: one row per (ex_id, ex_order_id), upserted in batches with monotonic state.

The combining rule lives in ``ledger.orders`` (its SQL form in ``order_upsert``); this module
only batches it. A batch is folded per key in Python first (one ``INSERT .. ON CONFLICT`` may not
touch a row twice), then written as one ``INSERT .. ON CONFLICT DO UPDATE``: on PostgreSQL a single
statement reading the whole batch from one JSON document, like the trades (``trade_writes``), so
the database plans it once per batch; on SQLite one prepared statement executed for every row
(executemany). PostgreSQL plans every execution (``plan_cache_mode = force_custom_plan``, see
``engine``), so an executemany there planned the ``CASE`` expressions of the merge once per order:
0.9 ms per order in an end-to-end run, the largest part of the ORM sink's batch times and of the
SQL leg's p99 (bench/RESULTS.md, "SQL leg latency at ~1,000 events/s").
A version with a client order id may first adopt the row a fullon bot wrote before the venue
knew the order (``bot_orders``). Nothing here commits: the caller commits, so orders and trades
of one bus batch land together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import cast

import msgspec
from sqlalchemy import JSON, Executable, String, Table, bindparam, column, desc, func, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from fullon_account_service.ledger.orders import KEY_FIELDS, OrderRecord, merge
from fullon_account_service.storage.db.bot_orders import adopt_bot_rows
from fullon_account_service.storage.db.errors import translating
from fullon_account_service.storage.db.models import Order
from fullon_account_service.storage.db.order_upsert import ROW_COLUMNS, order_row, upsert_assignments

TABLE = cast(Table, Order.__table__)
_ENCODE = msgspec.json.Encoder()


def _sqlite_upsert() -> Executable:
    """Executed with a list of rows (one executemany per batch)."""
    insert = sqlite.insert(TABLE)
    return insert.on_conflict_do_update(
        index_elements=list(KEY_FIELDS), set_=upsert_assignments(TABLE, insert.excluded)
    )


def _pg_upsert() -> Executable:
    """Executed with the batch's rows as one JSON document (``:rows``), typed by the model's
    columns (``json_to_recordset``): the statement text is constant, prepared once."""
    rows = (
        func.json_to_recordset(sql_cast(bindparam("rows", type_=String), JSON))
        .table_valued(*(column(name, TABLE.c[name].type) for name in ROW_COLUMNS))
        .render_derived(name="r", with_types=True)
    )
    columns = list(ROW_COLUMNS)
    insert = postgresql.insert(TABLE).from_select(columns, select(*(rows.c[name] for name in columns)))
    return insert.on_conflict_do_update(
        index_elements=list(KEY_FIELDS), set_=upsert_assignments(TABLE, insert.excluded)
    )


_SQLITE_UPSERT = _sqlite_upsert()
_PG_UPSERT = _pg_upsert()


def _pg_rows(records: Iterable[OrderRecord], now: datetime) -> str:
    """The rows of ``_PG_UPSERT``, the timestamp as the naive UTC wall time the column holds
    (what ``UtcDateTime`` binds: an aware value converted to UTC, a naive one taken as UTC)."""
    rows = [order_row(record, now) for record in records]
    for row in rows:
        at = row["timestamp"]
        if at.tzinfo is not None:
            row["timestamp"] = at.astimezone(UTC).replace(tzinfo=None)
    return _ENCODE.encode(rows).decode()


def fold(records: Iterable[OrderRecord]) -> list[OrderRecord]:
    """One record per order key, combined by the monotonic rule, first-seen order kept."""
    folded: dict[tuple[int, str], OrderRecord] = {}
    for record in records:
        current = folded.get(record.key)
        folded[record.key] = record if current is None else merge(current, record)
    return list(folded.values())


class OrderRepository:
    def __init__(self, session: AsyncSession, *, clock: Callable[[], datetime] | None = None) -> None:
        self._session = session
        self._clock = clock or (lambda: datetime.now(UTC))

    async def save_order(self, record: OrderRecord) -> None:
        await self.save_orders([record])

    async def save_orders(self, records: Sequence[OrderRecord]) -> int:
        """Upsert a batch; returns how many distinct orders it touched."""
        folded = fold(records)
        if not folded:
            return 0
        now = self._clock()
        dialect = self._session.get_bind().dialect.name
        if dialect not in ("postgresql", "sqlite"):
            raise NotImplementedError(f"order upsert needs PostgreSQL or SQLite, not {dialect}")
        async with translating("save orders"):
            await adopt_bot_rows(self._session, folded)
            if dialect == "postgresql":
                await self._session.execute(_PG_UPSERT, {"rows": _pg_rows(folded, now)})
            else:
                await self._session.execute(_SQLITE_UPSERT, [order_row(record, now) for record in folded])
        return len(folded)

    async def get_order(self, ex_id: int, ex_order_id: str) -> Order | None:
        async with translating("get order"):
            result = await self._session.execute(
                select(Order).where(Order.ex_id == ex_id, Order.ex_order_id == ex_order_id)
            )
            return result.scalar_one_or_none()

    async def get_exchange_orders(self, exchange_id: int, limit: int = 100) -> list[Order]:
        """Newest first."""
        async with translating("get exchange orders"):
            result = await self._session.execute(
                select(Order)
                .where(Order.ex_id == exchange_id)
                .order_by(desc(Order.timestamp), desc(Order.order_id))
                .limit(limit)
            )
            return list(result.scalars())
