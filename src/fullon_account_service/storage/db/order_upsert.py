"""The order merge rule (``ledger.orders``) as SQL, for ``INSERT .. ON CONFLICT DO UPDATE``.

``order_row`` gives the column values of an insert of one version; ``upsert_assignments`` the
``DO UPDATE SET`` values that combine it with the stored row exactly as ``ledger.orders.merge``
combines two records, as ``CASE`` expressions valid on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, case, func, literal_column, null, or_
from sqlalchemy.sql.elements import KeyedColumnElement

from fullon_account_service.ledger.conventions import TERMINAL_STATUSES
from fullon_account_service.ledger.orders import OWNER_FIELDS, UNKNOWN_TYPE, VERSIONED_FIELDS, OrderRecord
from fullon_account_service.storage.db.column_types import utc_from_ms

_RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(OrderRecord))
ROW_COLUMNS: tuple[str, ...] = (*_RECORD_FIELDS, "final_volume", "timestamp")
"""The columns ``order_row`` gives values for."""


def order_row(record: OrderRecord, now: datetime) -> dict[str, Any]:
    """The column values of an INSERT of this version (the conflict branch combines them)."""
    # Not dataclasses.asdict: it deep-copies every field (all scalars) at ~30x the cost.
    values = {name: getattr(record, name) for name in _RECORD_FIELDS}
    values["futures"] = record.futures or ":" in record.symbol
    values["final_volume"] = record.filled if record.is_terminal else None
    for name, unknown in OWNER_FIELDS.items():
        if values[name] is None:
            values[name] = unknown
    at_ms = record.updated_ms if record.updated_ms is not None else record.created_ms
    values["timestamp"] = utc_from_ms(at_ms) if at_ms is not None else now
    return values


_TERMINAL_LITERALS: list[ColumnElement[str]] = [literal_column(f"'{status}'") for status in TERMINAL_STATUSES]


def _is_terminal(status: ColumnElement[Any]) -> ColumnElement[bool]:
    """Inline constants (the statement must stay valid for executemany) compared one by one:
    SQLite builds a temporary b-tree for every ``IN (...)`` list on every row."""
    return or_(*(status == value for value in _TERMINAL_LITERALS))


def _greatest(a: ColumnElement[Any], b: ColumnElement[Any]) -> ColumnElement[Any]:
    return case((a.is_(None), b), (b.is_(None), a), (a > b, a), else_=b)


def _least(a: ColumnElement[Any], b: ColumnElement[Any]) -> ColumnElement[Any]:
    return case((a.is_(None), b), (b.is_(None), a), (a < b, a), else_=b)


def upsert_assignments(
    table: Table, excluded: Any
) -> dict[str, ColumnElement[Any] | KeyedColumnElement[Any]]:
    """``DO UPDATE SET`` values implementing ``merge`` in SQL (``excluded`` = incoming row)."""
    cur, inc = table.c, excluded
    inc_terminal, cur_terminal = _is_terminal(inc.status), _is_terminal(cur.status)
    wins = or_(
        and_(inc_terminal, ~cur_terminal),
        and_(
            inc_terminal == cur_terminal,
            or_(inc.updated_ms.is_(None), cur.updated_ms.is_(None), inc.updated_ms >= cur.updated_ms),
        ),
    )
    values: dict[str, ColumnElement[Any] | KeyedColumnElement[Any]] = {
        name: case((wins, func.coalesce(inc[name], cur[name])), else_=func.coalesce(cur[name], inc[name]))
        for name in VERSIONED_FIELDS
    }
    for name, unset_value in OWNER_FIELDS.items():
        unset = or_(cur[name].is_(None), cur[name] == literal_column(repr(unset_value)))
        values[name] = case((unset, inc[name]), else_=cur[name])
    unknown_type: ColumnElement[str] = literal_column(f"'{UNKNOWN_TYPE}'")
    values["order_type"] = case(
        (inc.order_type == unknown_type, cur.order_type),
        (cur.order_type == unknown_type, inc.order_type),
        else_=values["order_type"],
    )
    status = case((wins, inc.status), else_=cur.status)
    filled = _greatest(cur.filled, inc.filled)
    values["status"] = status
    values["filled"] = filled
    values["final_volume"] = case((_is_terminal(status), filled), else_=null())
    values["created_ms"] = _least(cur.created_ms, inc.created_ms)
    values["updated_ms"] = case((wins, func.coalesce(inc.updated_ms, cur.updated_ms)), else_=cur.updated_ms)
    values["timestamp"] = case((wins, inc.timestamp), else_=cur.timestamp)
    return values
