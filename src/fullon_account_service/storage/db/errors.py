"""SQLAlchemy errors into our tree, at the storage boundary.

A lost connection, a timeout, a serialization failure or a deadlock pass with time (transient);
a constraint violation or a bad statement is our bug or bad data, and retrying cannot help.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import exc

from fullon_account_service.errors import AccountServiceError, FatalError, TransientError
from fullon_account_service.redaction import redact_text

# PostgreSQL SQLSTATEs worth a retry: serialization failure, deadlock, too many connections,
# admin shutdown / crash, cannot connect now; SQLite reports a busy file as "database is locked".
_TRANSIENT_SQLSTATES = ("40001", "40P01", "53300", "57P01", "57P02", "57P03")
_TRANSIENT_TEXT = ("database is locked", "connection", "timeout", "closed")


def translate(err: exc.SQLAlchemyError, action: str) -> AccountServiceError:
    message = redact_text(f"database {action} failed: {type(err).__name__}: {err}")
    if isinstance(err, exc.IntegrityError | exc.ProgrammingError | exc.ArgumentError):
        return FatalError(message)
    if isinstance(err, exc.DBAPIError):
        sqlstate = str(getattr(err.orig, "sqlstate", "") or getattr(err.orig, "pgcode", "") or "")
        lowered = str(err).lower()
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


@asynccontextmanager
async def translating(action: str) -> AsyncIterator[None]:
    """Run a block whose SQLAlchemy errors leave as ``TransientError`` / ``FatalError``.

    ``OSError`` (refused connection before the driver wrapped it) counts as an outage.
    """
    try:
        yield
    except exc.SQLAlchemyError as e:
        raise translate(e, action) from e
    except (OSError, ConnectionError) as e:
        raise TransientError(redact_text(f"database {action} failed: {type(e).__name__}: {e}")) from e
