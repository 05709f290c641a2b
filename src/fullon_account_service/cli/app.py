"""The ``fullon-account`` command line: one typer app, one module per command, imported on demand.

Importing ccxt takes seconds and SQLAlchemy about one, so nothing heavy is imported to show help
or to report a configuration error:

- ``fullon-account --help`` lists ``COMMANDS`` from their one-line help here, importing no
  command module;
- ``fullon-account CMD ...`` imports only CMD's module, and only after the settings have been
  read: a bad variable is reported (exit 2) before that import;
- command modules keep their top-level imports light (typer, the settings) and import the
  machinery inside the command function, so ``CMD --help`` is fast too.

Add a command with one line in ``COMMANDS``: its name, ``module:attr`` (a module of this package;
``attr`` a typer command function, or a ``typer.Typer`` for a group of subcommands) and the line
that ``fullon-account --help`` shows for it.
"""

from __future__ import annotations

import importlib
from difflib import get_close_matches
from typing import Any, NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup
from typer.models import DefaultPlaceholder

from fullon_account_service.errors import ConfigError
from fullon_account_service.settings import Settings


class Entry(NamedTuple):
    target: str
    help: str


COMMANDS: dict[str, Entry] = {
    "accounts": Entry("accounts:accounts_app", "Add, list, remove and test the watched accounts."),
    "db": Entry("db:db_app", "Create or update the database schema."),
    "dlq": Entry("dlq:dlq_app", "List, show, replay and drop dead letters."),
    "demo": Entry("demo:demo", "The whole service against simulated Kraken, Bybit and Hyperliquid, live."),
    "health": Entry("health:health", "Report health; exit 1 when data is not flowing into storage."),
    "pnl": Entry("pnl:pnl", "Realised PnL per symbol, totalled per quote currency, from the stored trades."),
    "producer": Entry("producer:producer", "Watch exchange accounts and publish their events to the bus."),
    "simulate": Entry("simulate:simulate", "Serve simulated Kraken, Bybit and Hyperliquid on 127.0.0.1."),
    "sink": Entry("sink:sink", "Store events from the bus: balances and positions, or orders and trades."),
    "tail": Entry("tail:tail", "Follow the event streams live, without side effects."),
}

_LISTING = "fullon_account.listing"
"""``ctx.meta`` flag: the group's help is being drawn, so a command only needs its name and help."""


class _FalseHelpFlag:
    """``--help`` defaulting to ``False`` rather than typer's ``None``.

    typer checks every option's value through a pydantic ``TypeAdapter`` unless the value is a
    bool already, and importing pydantic for that costs about 0.2 s: with ``None`` as its default,
    the help flag alone made every command pay it to learn that help was not asked for.
    """

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None and option.default is None:
            option.default = False
        return option


class _Command(_FalseHelpFlag, TyperCommand):
    pass


class _Group(_FalseHelpFlag, TyperGroup):
    pass


def _false_help_flags(app: typer.Typer) -> typer.Typer:
    """``app`` with its group and commands built by the classes above (unless they name their own)."""
    if app.info.cls is None or isinstance(app.info.cls, DefaultPlaceholder):
        app.info.cls = _Group
    for command in app.registered_commands:
        if command.cls in (None, TyperCommand):
            command.cls = _Command
    for group in app.registered_groups:
        if group.typer_instance is not None:
            _false_help_flags(group.typer_instance)
    return app


def load_command(name: str) -> Any:
    """The click command (or group) of ``COMMANDS[name]``: imports its module."""
    module, _, attr = COMMANDS[name].target.partition(":")
    obj = getattr(importlib.import_module(f"{__package__}.{module}"), attr)
    if isinstance(obj, typer.Typer):
        return typer.main.get_command(_false_help_flags(obj))
    single = typer.Typer(add_completion=False)
    single.command(name, cls=_Command)(obj)
    return typer.main.get_command(single)


def command_words() -> list[list[str]]:
    """The top level, each command, and each subcommand of a group, as typed after the program's
    name: what every ``--help`` is reached by. Imports every command's module."""
    words: list[list[str]] = [[]]
    for name in COMMANDS:
        words.append([name])
        command = load_command(name)
        if isinstance(command, TyperGroup):
            words += [[name, sub] for sub in command.commands]
    return words


def unknown_command(name: str) -> str:
    """typer's message for a mistyped command, with its suggestion, from the registry's names."""
    matches = get_close_matches(name, list(COMMANDS))
    suggestion = f" Did you mean {', '.join(repr(m) for m in matches)}?" if matches else ""
    return f"No such command {name!r}.{suggestion}"


def _help_requested(ctx: Any, args: list[str]) -> bool:
    return any(arg in ctx.help_option_names for arg in args)


class _LazyGroup(_FalseHelpFlag, TyperGroup):
    # ``ctx`` and the commands are click types, which typer has vendored since 0.2x: ``Any`` keeps
    # this working whichever click typer ships with.
    def list_commands(self, ctx: Any) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        if ctx.meta.get(_LISTING):
            return TyperCommand(cmd_name, help=COMMANDS[cmd_name].help)
        return load_command(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        ctx.meta[_LISTING] = True
        try:
            super().format_help(ctx, formatter)
        finally:
            ctx.meta[_LISTING] = False

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """Read the settings before the command's module is imported (help needs none).

        A mistyped command is reported first, with the suggestion typer draws from
        ``self.commands``, which the lazy registry leaves empty.
        """
        if ctx.resilient_parsing:
            return super().resolve_command(ctx, args)
        if args and args[0] not in COMMANDS and not args[0].startswith("-"):
            ctx.fail(unknown_command(args[0]))
        if not _help_requested(ctx, args[1:]):
            try:
                ctx.obj = Settings.from_env()
            except ConfigError as e:
                typer.echo(f"configuration error: {e}", err=True)
                raise typer.Exit(2) from None
        return super().resolve_command(ctx, args)


app = typer.Typer(
    name="fullon-account",
    cls=_LazyGroup,
    help="Watch exchange accounts through Redis Streams into Redis and SQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _configure(ctx: typer.Context) -> None:
    """Configure logging once, from the settings read before the command was loaded."""
    if isinstance(ctx.obj, Settings):
        import logging

        from fullon_account_service.logs import configure_logging

        configure_logging(ctx.obj)
        # Alembic announces each of its plugins at INFO when imported, which commands now do
        # after logging is configured: that is import noise, not news for the operator.
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def main() -> None:
    app()
