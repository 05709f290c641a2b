"""Which database failures pass with time and which mean the store refuses every statement.

Known by SQLSTATE on PostgreSQL and by message on SQLite (which reports all of these as one
``OperationalError``), without SQLAlchemy: the engine's translation (``errors``) and the
command line's plain SQL (``plain_sql``) sort a failure by the same lists.
"""

from __future__ import annotations

import errno

from fullon_account_service.errors import AccountServiceError, StorageUnavailable, TransientError
from fullon_account_service.redaction import redact_text

# PostgreSQL SQLSTATEs worth a retry: serialization failure, deadlock, too many connections,
# admin shutdown / crash, cannot connect now; SQLite reports a busy file as "database is locked".
TRANSIENT_SQLSTATES = ("40001", "40P01", "53300", "57P01", "57P02", "57P03")
TRANSIENT_TEXT = (
    "database is locked",
    "connection",
    "timeout",
    "closed",
    "cached statement plan is invalid",  # asyncpg, once after a table was re-created
)
# Undefined table / column / function / schema / database, insufficient privilege, bad
# authorization or password, read-only transaction, disk full, out of memory, I/O error.
UNAVAILABLE_SQLSTATES = (
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
UNAVAILABLE_TEXT = (
    "no such table",
    "no such column",
    "readonly database",
    "database or disk is full",
    "disk i/o error",
    "unable to open database file",
)


def refuses_everything(sqlstate: str, driver_message: str) -> bool:
    """A missing table or column, a revoked grant, a full or read-only disk: no statement will do.

    ``driver_message`` is the driver's own text: a statement and its parameters are no evidence."""
    said = driver_message.lower()
    return sqlstate in UNAVAILABLE_SQLSTATES or any(text in said for text in UNAVAILABLE_TEXT)


def passes_with_time(sqlstate: str, message: str) -> bool:
    lowered = message.lower()
    return sqlstate in TRANSIENT_SQLSTATES or any(text in lowered for text in TRANSIENT_TEXT)


def os_failure(err: OSError, action: str) -> AccountServiceError:
    """A refused connection (before the driver wrapped it) is an outage; a full or read-only disk
    is storage that refuses every write."""
    message = redact_text(f"database {action} failed: {type(err).__name__}: {err}")
    if err.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
        return StorageUnavailable(message)
    return TransientError(message)
