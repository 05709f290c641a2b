"""Which revision a database is at, read without importing Alembic.

Alembic's import costs about half a second, too much for ``fullon-account db current``. Our
version table holds one revision once migrated (our history is linear), read here with a plain
SELECT; Alembic is asked only when the table holds anything else, or is absent (a database never
migrated, or migrated before our own version table: a revision of ours still in fullon_orm's
``alembic_version`` counts).
"""

from __future__ import annotations

from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection

from fullon_account_service.storage.db.engine import make_engine
from fullon_account_service.storage.db.errors import translating
from fullon_account_service.storage.db.schema_names import VERSION_TABLE
from fullon_account_service.storage.db.version_table import legacy_revisions, version_table


async def current(database_url: str) -> str | None:
    """The revision the database is at; ``None`` for a database never migrated."""
    engine = make_engine(database_url)
    try:
        async with translating("read schema revision"), engine.connect() as conn:
            return await conn.run_sync(_current_revision)
    finally:
        await engine.dispose()


def _current_revision(connection: Connection) -> str | None:
    if inspect(connection).has_table(VERSION_TABLE):
        recorded: list[str] = list(connection.scalars(select(version_table(VERSION_TABLE).c.version_num)))
        if len(recorded) == 1:
            return recorded[0]
    return _current_revision_by_alembic(connection)


def _current_revision_by_alembic(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from fullon_account_service.storage.db.migrate import alembic_config

    revision = MigrationContext.configure(
        connection, opts={"version_table": VERSION_TABLE}
    ).get_current_revision()
    if revision is not None:
        return revision
    config = alembic_config(connection.engine.url.render_as_string(hide_password=False))
    ours = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    legacy = legacy_revisions(connection, ours)
    return legacy[0] if legacy else None
