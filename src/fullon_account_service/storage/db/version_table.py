"""Where our Alembic revision is kept: our own version table, never fullon_orm's.

fullon_orm keeps its revision in Alembic's default ``alembic_version``; a database shared with it
would otherwise hold two unrelated revisions in one table, and each tool would take the other's
for its own. Ours is ``fullon_account_alembic_version``.

Installs migrated before this change kept our revision in ``alembic_version``.
``adopt_legacy_revision`` moves it: only rows that are revision ids of ours are moved (a fullon_orm
revision is left alone), and the table is dropped when nothing else was in it.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, delete, insert, inspect, select
from sqlalchemy.engine import Connection

from fullon_account_service.storage.db.schema_names import LEGACY_VERSION_TABLE, VERSION_TABLE


def version_table(name: str) -> Table:
    """The shape Alembic gives a version table."""
    return Table(
        name,
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name=f"{name}_pkc"),
    )


def legacy_revisions(connection: Connection, ours: Collection[str]) -> list[str]:
    """Our revision ids found in ``alembic_version`` (none when the table is absent)."""
    if not inspect(connection).has_table(LEGACY_VERSION_TABLE):
        return []
    legacy = version_table(LEGACY_VERSION_TABLE)
    return [r for r in connection.scalars(select(legacy.c.version_num)) if r in ours]


def adopt_legacy_revision(connection: Connection, ours: Collection[str]) -> list[str]:
    """Move our revision ids out of ``alembic_version`` into our table; the ids moved."""
    found = legacy_revisions(connection, ours)
    if not found:
        return []
    table = version_table(VERSION_TABLE)
    legacy = version_table(LEGACY_VERSION_TABLE)
    table.create(connection, checkfirst=True)
    if connection.scalar(select(table.c.version_num).limit(1)) is None:
        connection.execute(insert(table), [{"version_num": r} for r in found])
    connection.execute(delete(legacy).where(legacy.c.version_num.in_(found)))
    if connection.scalar(select(legacy.c.version_num).limit(1)) is None:
        legacy.drop(connection)
    return found
