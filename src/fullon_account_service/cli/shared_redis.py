"""The checks that keep commands off a Redis nobody else can read.

With no Redis configured, ``make_redis`` gives an in-process fakeredis: right for the demo and the
tests, which run producers and sinks in one process, and silently useless for any other command.
A producer or a sink started on its own would publish to nobody or wait for nothing; ``tail``,
``dlq`` and ``health`` would read a bus that nothing can write to and report it empty, which
looks like a quiet system. Those commands call one of these first, before anything heavy is
imported (fakeredis and numpy cost about a second), and stop at once with one line that says
what to set: exit 2, as for any configuration error.
"""

from __future__ import annotations

import typer

from fullon_account_service.errors import ConfigError
from fullon_account_service.settings import Settings

EMBEDDED_HELP = "Run on a private in-process Redis when none is configured (nothing else can read it)."
_SET = "set REDIS_URL (e.g. redis://127.0.0.1:6379/0) or CACHE_HOST / REDIS_HOST"


def require_shared_redis(settings: Settings, *, embedded: bool, command: str) -> None:
    """Exit 2 when ``command`` would run on the in-process Redis without ``--embedded``."""
    if settings.embedded_redis and not embedded:
        typer.echo(
            f"error: {command} needs a Redis that other processes share: {_SET}, or pass --embedded "
            "to run on a private in-process Redis",
            err=True,
        )
        raise typer.Exit(2)


def require_redis_to_read(settings: Settings, *, command: str) -> None:
    """Exit 2 when no Redis is configured: ``command`` reads what other processes wrote there."""
    if settings.embedded_redis:
        typer.echo(
            f"error: {command} reads what producers and sinks wrote to Redis, and none is configured: "
            f"{_SET} (the embedded Redis lives inside the demo's own process; nothing else can read it)",
            err=True,
        )
        raise typer.Exit(2)


def reader_settings(command: str) -> Settings:
    """The settings of ``command``, which reads what other processes wrote to Redis: a
    configuration error, or no Redis configured, is one line and exit 2."""
    try:
        settings = Settings.from_env()
    except ConfigError as e:
        typer.echo(f"configuration error: {e}", err=True)
        raise typer.Exit(2) from None
    require_redis_to_read(settings, command=command)
    return settings
