"""The accounts the command line adds and removes, as SQL text run by the driver alone (``plain_sql``).

Each change is one transaction writing the rows the ORM's repositories would (``users`` with
fullon's defaults, the ``cat_exchanges`` kind on first use, ``exchanges``, timestamps as
``UtcDateTime`` stores them), and on PostgreSQL it sends ``NOTIFY`` on ``EXCHANGES_CHANNEL`` in
that transaction: delivered at commit, it wakes every producer's discovery at once instead of at
its next re-read. ``tests/storage/test_plain_writes.py`` checks the rows against the ORM's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fullon_account_service.storage.db.plain_sql import Rows, connected
from fullon_account_service.storage.db.schema_names import EXCHANGES_CHANNEL

_USER = "SELECT uid FROM users WHERE mail = $1"
_ADD_USER = (
    "INSERT INTO users (mail, name, lastname, role, active, timestamp)"
    " VALUES ($1, '', '', 'user', $2, $3) RETURNING uid"
)
_SAME_ACCOUNT = (
    "SELECT e.ex_id FROM exchanges e JOIN cat_exchanges c ON c.cat_ex_id = e.cat_ex_id"
    " WHERE e.uid = $1 AND c.name = $2 AND e.name = $3"
)
_KIND = "SELECT cat_ex_id FROM cat_exchanges WHERE name = $1"
_ADD_KIND = "INSERT INTO cat_exchanges (name) VALUES ($1) RETURNING cat_ex_id"
_ADD_ACCOUNT = (
    "INSERT INTO exchanges (uid, cat_ex_id, name, test, active, force_rest, timestamp)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ex_id"
)
_DEACTIVATE = "UPDATE exchanges SET active = $2 WHERE ex_id = $1 RETURNING ex_id"
_REMOVE = "DELETE FROM exchanges WHERE ex_id = $1 RETURNING ex_id"
_NOTIFY = f"NOTIFY {EXCHANGES_CHANNEL}"


@dataclass(frozen=True, slots=True)
class AddedAccount:
    ex_id: int
    created: bool
    """False: the user already had an account of this exchange and name (``ex_id``); nothing written."""


async def add_account(
    database_url: str, *, exchange: str, name: str, user: str, test: bool, force_rest: bool
) -> AddedAccount:
    """``user`` (a mail) and ``exchange``'s kind are created when missing; an active account."""
    now = datetime.now(UTC)
    async with connected(database_url, "add account", write=True) as rows:
        uid = await _one(rows, _USER, user) or await _one(rows, _ADD_USER, user, True, now)
        assert uid is not None
        existing = await _one(rows, _SAME_ACCOUNT, uid, exchange, name)
        if existing is not None:
            return AddedAccount(existing, created=False)
        kind = await _one(rows, _KIND, exchange) or await _one(rows, _ADD_KIND, exchange)
        ex_id = await _one(rows, _ADD_ACCOUNT, uid, kind, name, test, True, force_rest, now)
        assert ex_id is not None
        await _notify(rows, database_url)
    return AddedAccount(ex_id, created=True)


async def remove_account(database_url: str, ex_id: int, *, deactivate: bool) -> bool:
    """Delete the row, or only switch it off; orders and trades stay either way. False: no such ex_id."""
    async with connected(
        database_url, "deactivate account" if deactivate else "remove account", write=True
    ) as rows:
        found = bool(await (rows(_DEACTIVATE, ex_id, False) if deactivate else rows(_REMOVE, ex_id)))
        if found:
            await _notify(rows, database_url)
    return found


async def _one(rows: Rows, sql: str, *params: object) -> int | None:
    """The integer in the first column of the first row, if there is a row."""
    found = await rows(sql, *params)
    return int(found[0][0]) if found else None


async def _notify(rows: Rows, database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        await rows(_NOTIFY)
