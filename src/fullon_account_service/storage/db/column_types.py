"""Column types that behave the same on PostgreSQL and SQLite.

SQLite has no time zones and PostgreSQL's ``BIGSERIAL`` has no SQLite twin, so without these
types the same row would read back differently depending on the backend. Timestamps are stored
the way fullon_orm stores them, UTC in a ``timestamp without time zone``, so fullon code that
subtracts ``datetime.utcnow()`` from them gets the right answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from fullon_account_service.storage.db.utc import as_utc

BigId = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit surrogate keys; SQLite only auto-increments a column declared ``INTEGER PRIMARY KEY``."""


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC ``datetime`` in and out, stored as the naive UTC wall time.

    The column is ``timestamp without time zone`` on every backend (fullon's type); the zone is
    taken off on write (an aware value is converted to UTC first, a naive one is taken to be UTC
    already) and put back on read.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


class utc_now(FunctionElement[datetime]):
    """The current UTC wall time as a naive timestamp, as a server default.

    PostgreSQL's ``now()`` is a ``timestamptz``: stored into a ``timestamp`` column it would be
    converted to the session's time zone, so the default there is ``timezone('utc', now())``.
    SQLite's ``CURRENT_TIMESTAMP`` is UTC already.
    """

    type = DateTime(timezone=False)
    inherit_cache = True


@compiles(utc_now, "postgresql")
def _utc_now_postgresql(element: utc_now, compiler: SQLCompiler, **kw: Any) -> str:
    return "timezone('utc', now())"


@compiles(utc_now)
def _utc_now_default(element: utc_now, compiler: SQLCompiler, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP"


def utc_from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000.0, UTC)
