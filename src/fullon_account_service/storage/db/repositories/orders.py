"""Orders: one row per (ex_id, ex_order_id), upserted in batches with monotonic state.

The combining rule lives in ``ledger.orders`` (its SQL form in ``order_upsert``); this module
only batches it. A batch is folded
per key in Python first (one ``INSERT .. ON CONFLICT`` may not touch a row twice), then written
as one prepared ``INSERT .. ON CONFLICT DO UPDATE`` executed for all rows (executemany): one
compiled statement, no bind-parameter limit, several times faster than a multi-row VALUES.
A version with a client order id may first adopt the row a fullon bot wrote before the venue
knew the order (``bot_orders``). Nothing here commits: the caller commits, so orders and trades
of one bus batch land together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Executable, Table, desc, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from fullon_account_service.ledger.orders import KEY_FIELDS, OrderRecord, merge
from fullon_account_service.storage.db.bot_orders import ADOPT, adoption_params
from fullon_account_service.storage.db.errors import translating
from fullon_account_service.storage.db.models import Order
from fullon_account_service.storage.db.order_upsert import order_row, upsert_assignments

_INSERTS: dict[str, Callable[[Table], Any]] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
_upserts: dict[str, Executable] = {}


def _upsert_statement(dialect: str) -> Executable:
    """Built once per dialect; executed with a list of rows (one executemany per batch)."""
    statement = _upserts.get(dialect)
    if statement is None:
        make_insert = _INSERTS.get(dialect)
        if make_insert is None:
            raise NotImplementedError(f"order upsert needs PostgreSQL or SQLite, not {dialect}")
        table = Order.__table__
        assert isinstance(table, Table)
        insert = make_insert(table)
        statement = insert.on_conflict_do_update(
            index_elements=list(KEY_FIELDS), set_=upsert_assignments(table, insert.excluded)
        )
        _upserts[dialect] = statement
    return statement


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
        statement = _upsert_statement(self._session.get_bind().dialect.name)
        adoptions = adoption_params(folded)
        async with translating("save orders"):
            if adoptions:
                await self._session.execute(ADOPT, adoptions)
            await self._session.execute(statement, [order_row(record, now) for record in folded])
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
