"""The command line's read-only queries, run by the database driver itself, without SQLAlchemy.

Importing SQLAlchemy's asyncio extension imports its ORM: with a dialect that is most of a second
of CPU before the first query, more than ``accounts list``, ``pnl`` or ``db current`` may take in
all. Their few reads are written here once as SQL text with numbered parameters (``$1``, given to
SQLite as ``?1``), run through asyncpg or aiosqlite (the drivers the engine uses), and their
errors sorted by the engine's lists (``error_kinds``): a missing table is ``StorageUnavailable``
here too, so a caller can migrate and read again. Everything that writes keeps the engine.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from fullon_account_service.errors import AccountServiceError, FatalError, StorageUnavailable, TransientError
from fullon_account_service.ledger.entries import SYMBOL_CHARGES, SymbolCharge, summed_charges
from fullon_account_service.redaction import redact_text
from fullon_account_service.storage.db.error_kinds import os_failure, passes_with_time, refuses_everything
from fullon_account_service.storage.db.schema_names import VERSION_TABLE
from fullon_account_service.storage.db.utc import as_utc

Rows = Callable[..., Awaitable[list[tuple[Any, ...]]]]
"""``rows(sql, *params)``: every row of one query, as tuples."""

_SQLITE_BUSY_TIMEOUT_S = 10.0
"""As the engine's ``busy_timeout``: a read waits for the sink's write instead of failing."""

_REVISION = f"SELECT version_num FROM {VERSION_TABLE}"
_ACCOUNT_EXISTS = "SELECT ex_id FROM exchanges WHERE ex_id = $1"
_TRADES_OF = "SELECT symbol, time, roi, total_fee, volume FROM trades WHERE ex_id = $1"
_CHARGED = "reason IN (" + ", ".join(f"'{reason}'" for reason in SYMBOL_CHARGES) + ")"
_CHARGES_OF = (
    f"SELECT symbol, currency, reason, SUM(amount) FROM ledger WHERE ex_id = $1 AND {_CHARGED}"
    " GROUP BY symbol, currency, reason"
)
_CHARGE_FEES_OF = (
    "SELECT symbol, COALESCE(fee_currency, currency), reason, -SUM(fee) FROM ledger"
    f" WHERE ex_id = $1 AND {_CHARGED} AND fee IS NOT NULL"
    " GROUP BY symbol, COALESCE(fee_currency, currency), reason"
)
_ACCOUNTS = (
    "SELECT e.ex_id, u.mail, c.name, e.name, e.active, e.test, e.force_rest FROM exchanges e"
    " JOIN users u ON u.uid = e.uid JOIN cat_exchanges c ON c.cat_ex_id = e.cat_ex_id ORDER BY e.ex_id"
)


@dataclass(frozen=True, slots=True)
class StoredTrade:
    """The columns of a ``trades`` row that a PnL report sums (``reports.pnl.TradeRow``)."""

    symbol: str
    time: datetime
    roi: float | None
    total_fee: float | None
    volume: float


@dataclass(frozen=True, slots=True)
class StoredAccount:
    ex_id: int
    user: str
    exchange: str
    name: str
    active: bool
    test: bool
    force_rest: bool


def without_password(database_url: str) -> str:
    """The URL with its password shown as ``***``, as SQLAlchemy renders it."""
    parts = urlsplit(database_url)
    if parts.password is None:
        return database_url
    user, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{user.partition(':')[0]}:***@{host}"))


async def recorded_revision(database_url: str) -> str | None:
    """The one revision our version table holds; ``None`` when it holds none or several.

    A missing table is ``StorageUnavailable`` (a database never migrated, or migrated by an older
    release that kept the revision elsewhere): ``revision.current`` knows those cases."""
    async with reading(database_url, "read schema revision") as rows:
        found = await rows(_REVISION)
    return str(found[0][0]) if len(found) == 1 else None


async def pnl_inputs(database_url: str, ex_id: int) -> tuple[bool, list[StoredTrade], list[SymbolCharge]]:
    """(whether ``ex_id`` is a registered account, its stored trades in no particular order, its
    funding and liquidation charges per (symbol, currency, reason), fees taken off)."""
    async with reading(database_url, "read trades") as rows:
        known = bool(await rows(_ACCOUNT_EXISTS, ex_id))
        trades = [
            StoredTrade(str(symbol), as_utc(time), roi, total_fee, float(volume))
            for symbol, time, roi, total_fee, volume in await rows(_TRADES_OF, ex_id)
        ]
        charges = summed_charges([*await rows(_CHARGES_OF, ex_id), *await rows(_CHARGE_FEES_OF, ex_id)])
    return known, trades, charges


async def accounts(database_url: str) -> list[StoredAccount]:
    """Every account with its owner's mail and its exchange's name, by ex_id."""
    async with reading(database_url, "list accounts") as rows:
        found = await rows(_ACCOUNTS)
    return [
        StoredAccount(int(ex_id), str(mail), str(venue), str(name), bool(active), bool(test), bool(rest))
        for ex_id, mail, venue, name, active, test, rest in found
    ]


@asynccontextmanager
async def reading(database_url: str, action: str) -> AsyncIterator[Rows]:
    """One connection for a few queries; a driver's error leaves as one of our errors."""
    try:
        if database_url.startswith("sqlite"):
            async with _sqlite(database_url) as rows:
                yield rows
        else:
            async with _postgresql(database_url) as rows:
                yield rows
    except AccountServiceError:
        raise
    except OSError as e:
        raise os_failure(e, action) from e
    except Exception as e:
        raise _translate(e, action) from e


@asynccontextmanager
async def _sqlite(database_url: str) -> AsyncIterator[Rows]:
    import aiosqlite

    path = database_url.partition(":///")[2].partition("?")[0]
    async with aiosqlite.connect(path, timeout=_SQLITE_BUSY_TIMEOUT_S) as conn:

        async def rows(sql: str, *params: object) -> list[tuple[Any, ...]]:
            async with conn.execute(re.sub(r"\$(\d+)", r"?\1", sql), params) as cursor:
                return [tuple(row) for row in await cursor.fetchall()]

        yield rows


@asynccontextmanager
async def _postgresql(database_url: str) -> AsyncIterator[Rows]:
    import asyncpg

    scheme, _, rest = database_url.partition("://")
    conn = await asyncpg.connect(f"{scheme.partition('+')[0]}://{rest}")
    try:

        async def rows(sql: str, *params: object) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in await conn.fetch(sql, *params)]

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
