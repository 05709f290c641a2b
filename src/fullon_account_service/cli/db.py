"""``fullon-account db upgrade|current``: the schema of the configured database.

A deploy step: run ``db upgrade`` before starting sinks on a new or updated PostgreSQL. It is
idempotent (an up-to-date database is left alone) and uses ``DATABASE_URL`` / ``DB_*``. It is also
the repair: a table of the schema that went missing (dropped by hand, lost in a restore) is
re-created, and a sink waiting on it goes on by itself.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from fullon_account_service.errors import AccountServiceError
from fullon_account_service.redaction import redact_text
from fullon_account_service.settings import Settings

db_app = typer.Typer(
    name="db", help="Create or update the database schema.", no_args_is_help=True, add_completion=False
)


def _where(url: str) -> str:
    """The database named without its password."""
    from fullon_account_service.storage.db.plain_reads import without_password

    return without_password(url)


def _fail(err: AccountServiceError) -> typer.Exit:
    typer.echo(f"error: {redact_text(str(err))}", err=True)
    return typer.Exit(1)


@db_app.command()
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Migrate the database to REVISION (the latest by default)."""
    from fullon_account_service.storage.db import migrate
    from fullon_account_service.storage.db import revision as revisions

    url = Settings.from_env().database_url
    try:
        restored = asyncio.run(migrate.upgrade(url, revision))
        now = asyncio.run(revisions.current(url))
    except AccountServiceError as e:
        raise _fail(e) from None
    if restored:
        typer.echo(f"{_where(url)}: re-created missing tables: {', '.join(restored)}")
    typer.echo(f"{_where(url)}: at revision {now}")


@db_app.command()
def current() -> None:
    """Print the revision the database is at ("none" if never migrated)."""
    url = Settings.from_env().database_url
    try:
        revision = _current(url)
    except AccountServiceError as e:
        raise _fail(e) from None
    typer.echo(f"{_where(url)}: at revision {revision or 'none'}")


def _current(url: str) -> str | None:
    """Our version table's one row, read by the driver alone; anything else (no such table, a
    database never migrated or migrated by an older release) is left to ``revision.current``,
    which imports SQLAlchemy and, in those cases only, Alembic."""
    from fullon_account_service.errors import StorageUnavailable
    from fullon_account_service.storage.db.plain_reads import recorded_revision

    try:
        recorded = asyncio.run(recorded_revision(url))
    except StorageUnavailable:
        recorded = None
    if recorded is not None:
        return recorded
    from fullon_account_service.storage.db.revision import current as read_current

    return asyncio.run(read_current(url))
