"""Ledger entries: inserted once per (ex_id, ex_ledger_id, currency), read back by account and time.

``save_entries`` inserts with ``ON CONFLICT DO NOTHING``: an entry seen again (over WebSocket and
REST, or redelivered after a crash) is dropped. A repeat that disagrees with the stored entry
(same key, another amount or fee) keeps the first, as fills do, and is logged: the venue's ledger
id names one fact, so a second version is a venue or producer bug to look at, not a correction.
Nothing commits here: the ORM sink commits the ledger with the orders and trades of its batch.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, cast

import msgspec
from sqlalchemy import Row, Table, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from fullon_account_service.ledger.entries import LedgerKey, LedgerRecord
from fullon_account_service.logs import get_logger
from fullon_account_service.storage.db.errors import translating
from fullon_account_service.storage.db.models import Ledger

__all__ = ["LedgerRepository"]

log = get_logger("storage")

TABLE = cast(Table, Ledger.__table__)
C = TABLE.c
FIELDS = LedgerRecord.__struct_fields__
_KEY = (C.ex_id, C.ex_ledger_id, C.currency)
_COLUMNS = tuple(C[name] for name in FIELDS)
_MAX_KEYS_PER_STATEMENT = 5_000


def _record(row: Row[Any]) -> LedgerRecord:
    return LedgerRecord(**{name: getattr(row, name) for name in FIELDS})


class LedgerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def save_entries(self, records: Sequence[LedgerRecord]) -> int:
        """Insert the entries not stored yet; how many were new. The first of a key wins."""
        first: dict[LedgerKey, LedgerRecord] = {}
        for record in records:
            _keep_first(first, record)
        if not first:
            return 0
        async with translating("save ledger entries"):
            stmt = _insert(self._session.get_bind().dialect.name).returning(*_KEY)
            rows = [msgspec.structs.asdict(record) for record in first.values()]
            inserted = {tuple(row) for row in await self._session.execute(stmt, rows)}
            repeats = [record for key, record in first.items() if key not in inserted]
            if repeats:
                await self._log_conflicts(repeats)
        return len(inserted)

    async def _log_conflicts(self, repeats: list[LedgerRecord]) -> None:
        stored = {record.key: record for record in await self._read_keys([r.key for r in repeats])}
        for record in repeats:
            kept = stored.get(record.key)
            if kept is not None:
                _log_if_conflict(kept, record)

    async def _read_keys(self, keys: list[LedgerKey]) -> list[LedgerRecord]:
        found: list[LedgerRecord] = []
        for start in range(0, len(keys), _MAX_KEYS_PER_STATEMENT):
            chunk = keys[start : start + _MAX_KEYS_PER_STATEMENT]
            result = await self._session.execute(select(*_COLUMNS).where(tuple_(*_KEY).in_(chunk)))
            found.extend(_record(row) for row in result)
        return found

    async def entries_between(self, ex_id: int, after_ms: int, until_ms: int) -> list[LedgerRecord]:
        """The entries of ``ex_id`` with ``after_ms < time_ms <= until_ms``, oldest first.

        Half-open so that consecutive windows (between balance snapshots) count each entry once:
        a snapshot taken at ``after_ms`` already includes the entries of that millisecond.
        """
        async with translating("read ledger entries"):
            result = await self._session.execute(
                select(*_COLUMNS)
                .where(C.ex_id == ex_id, C.time_ms > after_ms, C.time_ms <= until_ms)
                .order_by(C.time_ms, C.ex_ledger_id, C.currency)
            )
            return [_record(row) for row in result]

    async def entries_of(self, ex_ids: Collection[int] | None = None) -> list[LedgerRecord]:
        """Every stored entry (of ``ex_ids`` when given), by account, oldest first."""
        stmt = select(*_COLUMNS).order_by(C.ex_id, C.time_ms, C.ex_ledger_id, C.currency)
        if ex_ids is not None:
            stmt = stmt.where(C.ex_id.in_(list(ex_ids)))
        async with translating("read ledger entries"):
            return [_record(row) for row in await self._session.execute(stmt)]


def _insert(dialect: str) -> postgresql.Insert | sqlite.Insert:
    if dialect == "postgresql":
        return postgresql.insert(TABLE).on_conflict_do_nothing(index_elements=list(_KEY))
    if dialect == "sqlite":
        return sqlite.insert(TABLE).on_conflict_do_nothing(index_elements=list(_KEY))
    raise NotImplementedError(f"ledger writes need PostgreSQL or SQLite, not {dialect}")


def _keep_first(first: dict[LedgerKey, LedgerRecord], record: LedgerRecord) -> None:
    kept = first.setdefault(record.key, record)
    if kept is not record:
        _log_if_conflict(kept, record)


def _log_if_conflict(kept: LedgerRecord, repeat: LedgerRecord) -> None:
    if (kept.amount, kept.fee) != (repeat.amount, repeat.fee):
        log.warning(
            "conflicting ledger entry dropped, the first kept",
            ex_id=kept.ex_id,
            ex_ledger_id=kept.ex_ledger_id,
            currency=kept.currency,
            kept_amount=kept.amount,
            dropped_amount=repeat.amount,
            kept_fee=kept.fee,
            dropped_fee=repeat.fee,
        )
