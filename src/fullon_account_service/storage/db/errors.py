"""SQLAlchemy errors into our tree, at the storage boundary.

A lost connection, a timeout, a serialization failure or a deadlock pass with time (transient);
a constraint violation or a bad statement is our bug or bad data, and retrying cannot help.
A database that refuses every statement alike (a table or column missing, a revoked grant, a full
disk, a read-only database) is ``StorageUnavailable``: checked first (``error_kinds``), so a sink
waits for an operator instead of taking the events for bad ones.
"""

from __future__ import annotations

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
from fullon_account_service.storage.db.error_kinds import os_failure, passes_with_time, refuses_everything


def translate(err: exc.SQLAlchemyError, action: str) -> AccountServiceError:
    """One line: SQLAlchemy's text goes on with the statement, its parameters and a link."""
    said = str(err).strip().splitlines()
    message = redact_text(f"database {action} failed: {type(err).__name__}: {said[0] if said else ''}")
    sqlstate = _sqlstate(err)
    if refuses_everything(sqlstate, str(getattr(err, "orig", None) or err)):
        return StorageUnavailable(message)
    if isinstance(err, exc.IntegrityError | exc.ProgrammingError | exc.ArgumentError):
        return FatalError(message)
    if isinstance(err, exc.DBAPIError):
        if (
            err.connection_invalidated
            or isinstance(err, exc.OperationalError | exc.InterfaceError)
            or passes_with_time(sqlstate, str(err))
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
    except OSError as e:
        raise os_failure(e, action) from e
