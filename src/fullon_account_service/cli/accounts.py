"""``fullon-account accounts add|list|remove|test``: the exchange accounts the producers watch.

Credentials never pass through here: ``add`` says which variables or secrets-file entry to set,
``list`` only says whether they are found, ``test`` reports ok or the error class with a redacted
message. Accounts are read and written by the database driver alone (``storage.db.plain_reads``,
``plain_writes``), never through SQLAlchemy, whose import alone would take over a second. On the
embedded SQLite database a command that finds a table or column missing (a fresh install, an
older schema) brings the schema up to date and runs once more, so these work on a fresh install
without paying for Alembic on every run; PostgreSQL is migrated by ``db upgrade`` (a deploy step).

Each command imports what it needs when it runs (``test`` pulls in ccxt, seconds to import;
``list`` its table drawing), because the app imports this module for every command.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Annotated, TypeVar

import typer

from fullon_account_service.errors import AccountServiceError
from fullon_account_service.redaction import redact_text
from fullon_account_service.settings import Settings

T = TypeVar("T")


accounts_app = typer.Typer(
    name="accounts",
    help="Add, list, remove and test the exchange accounts the producers watch.",
    no_args_is_help=True,
    add_completion=False,
)


async def with_schema(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work``; on SQLite, a schema that lacks what it needs is upgraded and ``work`` run again
    (its transaction was rolled back, so nothing is done twice)."""
    from fullon_account_service.errors import StorageUnavailable

    try:
        return await work()
    except StorageUnavailable:
        if not settings.is_sqlite:
            raise
    from fullon_account_service.storage.db.migrate import upgrade

    logging.getLogger("alembic").setLevel(logging.WARNING)
    await upgrade(settings.database_url)
    return await work()


def _run(work: Callable[[Settings], Awaitable[T]]) -> T:
    """Run against the configured database; a service error ends the command with exit 1."""
    settings = Settings.from_env()
    try:
        return asyncio.run(with_schema(settings, lambda: work(settings)))
    except AccountServiceError as e:
        typer.echo(f"error: {redact_text(str(e))}", err=True)
        raise typer.Exit(1) from None


@accounts_app.command("add")
def add(
    exchange: Annotated[str, typer.Option(help="ccxt exchange id: kraken, bybit, hyperliquid, ...")],
    name: Annotated[str, typer.Option(help="Account name, unique per user and exchange.")],
    user: Annotated[str, typer.Option(help="Owner's e-mail; the user is created when missing.")],
    force_rest: Annotated[
        bool, typer.Option("--force-rest", help="Poll over REST, never WebSocket.")
    ] = False,
    test: Annotated[bool, typer.Option("--test", help="Mark as a test (sandbox) account.")] = False,
) -> None:
    """Register an exchange account and say where its credentials go."""
    from fullon_account_service import account_admin as ops

    row = _run(
        lambda settings: ops.add_account(
            settings.database_url,
            exchange=exchange.lower(),
            name=name,
            user=user,
            force_rest=force_rest,
            test=test,
        )
    )
    strategy = "REST only (forced)" if force_rest else "WebSocket where the venue has it"
    typer.echo(f"added ex_id {row.ex_id}: {exchange.lower()} {name!r} of {user}; collection: {strategy}")
    typer.echo("credentials:")
    for line in ops.credential_hint(row.ex_id, exchange.lower()):
        typer.echo(f"  {line}")
    typer.echo(f"check them with: fullon-account accounts test --ex-id {row.ex_id}")


@accounts_app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array instead of a table.")] = False,
) -> None:
    """Every account with its owner, flags and whether credentials are found (never the values)."""
    from rich.console import Console
    from rich.table import Table

    from fullon_account_service.account_list import list_accounts

    rows = _run(lambda settings: list_accounts(settings.database_url, secrets_file=settings.secrets_file))
    if as_json:
        typer.echo(json.dumps([asdict(r) | {"collection": r.collection} for r in rows]))
        return
    table = Table("ex_id", "user", "exchange", "name", "active", "test", "collection", "credentials")
    for r in rows:
        table.add_row(
            str(r.ex_id),
            r.user,
            r.exchange,
            r.name,
            _yes(r.active),
            _yes(r.test),
            r.collection,
            r.credentials_text,
        )
    Console().print(table)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


@accounts_app.command("remove")
def remove(
    ex_id: Annotated[int, typer.Option("--ex-id", help="Account to remove.")],
    deactivate: Annotated[
        bool, typer.Option("--deactivate", help="Keep the row, only stop watching it.")
    ] = False,
) -> None:
    """Delete an account (or deactivate it); its stored orders and trades stay."""
    from fullon_account_service import account_admin as ops

    found = _run(lambda settings: ops.remove_account(settings.database_url, ex_id, deactivate=deactivate))
    if not found:
        typer.echo(f"no account with ex_id {ex_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{'deactivated' if deactivate else 'removed'} ex_id {ex_id}")


@accounts_app.command("test")
def test_(
    ex_id: Annotated[int, typer.Option("--ex-id", help="Account to check.")],
) -> None:
    """Fetch the balance once with the account's credentials: ok, or why not."""
    from fullon_account_service import account_admin as ops

    result = _run(
        lambda settings: ops.check_account(settings.database_url, ex_id, secrets_file=settings.secrets_file)
    )
    if not result.ok:
        typer.echo(f"failed: {result.detail}", err=True)
        raise typer.Exit(1)
    typer.echo(f"ok: {result.detail}")
