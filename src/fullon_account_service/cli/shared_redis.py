"""The check that keeps ``producer`` and ``sink`` off a Redis nobody else can read.

With no Redis configured, ``make_redis`` gives an in-process fakeredis: right for the demo and the
tests, which run producers and sinks in one process, and silently useless for a producer or a
sink started on its own, whose events nobody would ever see. Those two commands call this first,
before anything heavy is imported, and stop at once with one line that says what to set, unless
``--embedded`` asks for the private Redis on purpose.
"""

from __future__ import annotations

import typer

from fullon_account_service.settings import Settings

EMBEDDED_HELP = "Run on a private in-process Redis when none is configured (nothing else can read it)."


def require_shared_redis(settings: Settings, *, embedded: bool, command: str) -> None:
    """Exit 2 when ``command`` would run on the in-process Redis without ``--embedded``."""
    if settings.embedded_redis and not embedded:
        typer.echo(
            f"error: {command} needs a Redis that other processes share: set REDIS_URL "
            "(e.g. redis://127.0.0.1:6379/0) or CACHE_HOST / REDIS_HOST, or pass --embedded "
            "to run on a private in-process Redis",
            err=True,
        )
        raise typer.Exit(2)
