"""SQLAlchemy errors into our tree, at the storage boundary.

A lost connection, a timeout, a serialization failure or a deadlock pass with time (transient);
a constraint violation or a bad statement is our bug or bad data, and retrying cannot help.
A database that refuses every statement alike (a table or column missing, a revoked grant, a full
disk, a read-only database) is ``StorageUnavailable``: checked first, by SQLSTATE on PostgreSQL
and by message on SQLite (which reports all of these as ``OperationalError``), so a sink waits
for an operator instead of taking the events for bad ones.
"""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import exc

from fullon_account_service.errors import (
    AccountServiceError,
    FatalError,
    StorageUnavailable,
    TransientError,
)
from fullon_account_service.redaction import redact_text

# PostgreSQL SQLSTATEs worth a retry: serialization failure, deadlock, too many connections,
# admin shutdown / crash, cannot connect now; SQLite reports a busy file as "database is locked".
_TRANSIENT_SQLSTATES = ("40001", "40P01", "53300", "57P01", "57P02", "57P03")
_TRANSIENT_TEXT = (
    "database is locked",
    "connection",
    "timeout",
    "closed",
    "cached statement plan is invalid",  # asyncpg, once after a table was re-created
)
# Undefined table / column / function / schema / database, insufficient privilege, bad
# authorization or password, read-only transaction, disk full, out of memory, I/O error.
_UNAVAILABLE_SQLSTATES = (
    "42P01",
    "42703",
    "42883",
    "3F000",
    "3D000",
    "42501",
    "28000",
    "28P01",
    "25006",
    "53100",
    "53200",
    "58030",
)
_UNAVAILABLE_TEXT = (
    "no such table",
    "no such column",
    "readonly database",
    "database or disk is full",
    "disk i/o error",
    "unable to open database file",
)


def translate(err: exc.SQLAlchemyError, action: str) -> AccountServiceError:
    message = redact_text(f"database {action} failed: {type(err).__name__}: {err}")
    sqlstate = _sqlstate(err)
    lowered = str(err).lower()
    # The driver's own message: the statement and its parameters are no evidence either way.
    said = str(getattr(err, "orig", None) or err).lower()
    if sqlstate in _UNAVAILABLE_SQLSTATES or any(text in said for text in _UNAVAILABLE_TEXT):
        return StorageUnavailable(message)
    if isinstance(err, exc.IntegrityError | exc.ProgrammingError | exc.ArgumentError):
        return FatalError(message)
    if isinstance(err, exc.DBAPIError):
        if (
            err.connection_invalidated
            or isinstance(err, exc.OperationalError | exc.InterfaceError)
            or sqlstate in _TRANSIENT_SQLSTATES
            or any(text in lowered for text in _TRANSIENT_TEXT)
        ):
            return TransientError(message)
        return FatalError(message)
    if isinstance(err, exc.TimeoutError | exc.DisconnectionError):
        return TransientError(message)
    return FatalError(message)


def _sqlstate(err: exc.SQLAlchemyError) -> str:
    orig = getattr(err, "orig", None)
    return str(getattr(orig, "sqlstate", "") or getattr(orig, "pgcode", "") or "")


@asynccontextmanager
async def translating(action: str) -> AsyncIterator[None]:
    """Run a block whose SQLAlchemy errors leave as ``TransientError`` / ``FatalError`` /
    ``StorageUnavailable``.

    ``OSError`` (refused connection before the driver wrapped it) counts as an outage; a full or
    read-only disk as storage that refuses every write.
    """
    try:
        yield
    except exc.SQLAlchemyError as e:
        raise translate(e, action) from e
    except (OSError, ConnectionError) as e:
        message = redact_text(f"database {action} failed: {type(e).__name__}: {e}")
        if e.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
            raise StorageUnavailable(message) from e
        raise TransientError(message) from e
