"""SQL text run by the database driver itself, without SQLAlchemy: the command line's connection.

Importing SQLAlchemy's asyncio extension imports its ORM: with a dialect that is most of a second
of CPU before the first statement, more than ``accounts list|add|remove``, ``pnl`` or ``db
current`` may take in all. Their few statements (``plain_reads``, ``plain_writes``) are written
once as SQL text with numbered parameters (``$1``, given to SQLite as ``?1``) and run here through
asyncpg or aiosqlite, the drivers the engine uses, with the engine's per-connection settings
that change what a statement does (SQLite's foreign keys and busy timeout). A driver's error is
sorted by the engine's lists (``error_kinds``): a missing table is ``StorageUnavailable`` here
too, so a caller can migrate and run again.

A ``datetime`` parameter is stored as the engine's ``UtcDateTime`` stores it: the naive UTC wall
time, on SQLite as the text SQLAlchemy writes, so rows written either way read back alike.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fullon_account_service.errors import AccountServiceError, FatalError, StorageUnavailable, TransientError
from fullon_account_service.redaction import redact_text
from fullon_account_service.storage.db.error_kinds import os_failure, passes_with_time, refuses_everything

Rows = Callable[..., Awaitable[list[tuple[Any, ...]]]]
"""``rows(sql, *params)``: every row of one statement, as tuples (none for a plain write)."""

_SQLITE_BUSY_TIMEOUT_S = 10.0
"""As the engine's ``busy_timeout``: a statement waits for the sink's write instead of failing."""
_SQLITE_STAMP = "%Y-%m-%d %H:%M:%S.%f"
"""How SQLAlchemy's SQLite ``DateTime`` writes a timestamp."""


@asynccontextmanager
async def connected(database_url: str, action: str, *, write: bool = False) -> AsyncIterator[Rows]:
    """One connection for a few statements; with ``write``, one transaction, committed when the
    block ends and rolled back when it raises. A driver's error leaves as one of our errors."""
    try:
        if database_url.startswith("sqlite"):
            async with _sqlite(database_url, write) as rows:
                yield rows
        else:
            async with _postgresql(database_url, write) as rows:
                yield rows
    except AccountServiceError:
        raise
    except OSError as e:
        raise os_failure(e, action) from e
    except Exception as e:
        raise _translate(e, action) from e


def _naive_utc(value: object) -> object:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


@asynccontextmanager
async def _sqlite(database_url: str, write: bool) -> AsyncIterator[Rows]:
    import aiosqlite

    path = database_url.partition(":///")[2].partition("?")[0]
    async with aiosqlite.connect(path, timeout=_SQLITE_BUSY_TIMEOUT_S, isolation_level=None) as conn:
        await conn.execute("PRAGMA foreign_keys=ON")

        async def rows(sql: str, *params: object) -> list[tuple[Any, ...]]:
            values = [_sqlite_value(p) for p in params]
            async with conn.execute(re.sub(r"\$(\d+)", r"?\1", sql), values) as cursor:
                return [tuple(row) for row in await cursor.fetchall()]

        if not write:
            yield rows
            return
        await conn.execute("BEGIN IMMEDIATE")
        try:
            yield rows
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")


def _sqlite_value(value: object) -> object:
    naive = _naive_utc(value)
    return naive.strftime(_SQLITE_STAMP) if isinstance(naive, datetime) else naive


@asynccontextmanager
async def _postgresql(database_url: str, write: bool) -> AsyncIterator[Rows]:
    import asyncpg

    scheme, _, rest = database_url.partition("://")
    conn = await asyncpg.connect(f"{scheme.partition('+')[0]}://{rest}")
    try:

        async def rows(sql: str, *params: object) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in await conn.fetch(sql, *map(_naive_utc, params))]

        if not write:
            yield rows
            return
        async with conn.transaction():
            yield rows
    finally:
        await conn.close()


def _translate(err: Exception, action: str) -> AccountServiceError:
    """As ``errors.translate`` sorts the same failures coming through the engine."""
    message = redact_text(f"database {action} failed: {type(err).__name__}: {err}")
    sqlstate = str(getattr(err, "sqlstate", "") or "")
    if refuses_everything(sqlstate, str(err)):
        return StorageUnavailable(message)
    if isinstance(err, sqlite3.OperationalError) or passes_with_time(sqlstate, str(err)):
        return TransientError(message)
    if type(err).__module__.startswith("asyncpg") and not sqlstate:
        return TransientError(message)  # the client's own failures: a lost or closed connection
    return FatalError(message)
