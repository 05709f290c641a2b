"""The ``fullon-account`` command line: one typer app, one module per command.

Commands are imported only when invoked: the producer and simulator pull in ccxt, which takes
seconds to import, and ``fullon-account tail`` should not wait for that. Add a command with one
line in ``COMMANDS``: its name and ``module:function`` (a typer command function).
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

from fullon_account_service.cli.accounts import accounts_app
from fullon_account_service.cli.db import db_app
from fullon_account_service.cli.dlq import dlq_app
from fullon_account_service.errors import ConfigError
from fullon_account_service.logs import configure_logging
from fullon_account_service.settings import Settings

COMMANDS: dict[str, str] = {
    "tail": "fullon_account_service.cli.tail:tail",
    "simulate": "fullon_account_service.cli.simulate:simulate",
    "sink": "fullon_account_service.cli.sink:sink",
    "health": "fullon_account_service.cli.health:health",
    "pnl": "fullon_account_service.cli.pnl:pnl",
    "producer": "fullon_account_service.cli.producer:producer",
    "demo": "fullon_account_service.cli.demo:demo",
}


class _LazyGroup(TyperGroup):
    # ``ctx`` and the command are click types, which typer has vendored since 0.2x: ``Any`` keeps
    # this working whichever click typer ships with.
    def list_commands(self, ctx: Any) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | COMMANDS.keys())

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, _, attr = target.partition(":")
        single = typer.Typer()
        single.command(cmd_name)(getattr(importlib.import_module(module), attr))
        return typer.main.get_command(single)


app = typer.Typer(
    name="fullon-account",
    cls=_LazyGroup,
    help="Watch exchange accounts through Redis Streams into Redis and SQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(accounts_app, name="accounts")
app.add_typer(db_app, name="db")
app.add_typer(dlq_app, name="dlq")


@app.callback()
def _configure() -> None:
    """Configure logging once, from the same settings every command uses."""
    try:
        settings = Settings.from_env()
    except ConfigError as e:
        typer.echo(f"configuration error: {e}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings)


def main() -> None:
    app()
