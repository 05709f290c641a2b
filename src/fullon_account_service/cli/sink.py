"""``fullon-account sink --group cache|orm``: run one sink consumer until SIGTERM or Ctrl-C.

Run as many as needed per group, each with its own ``--consumer`` name: entries are shared out
between them, and the entries of one that died are claimed by the others after
``ACCOUNT_CLAIM_IDLE_MS``. The default name (host and pid) is unique per process.

With no Redis configured it refuses to start (exit 2) unless ``--embedded``: a sink alone on an
in-process Redis would wait for events no producer can send it (``cli.shared_redis``).

With metrics on (``ACCOUNT_METRICS_PORT``), an ``orm`` sink also sets the
``fullon_account_balance_unexplained`` gauge every minute (``verify.explained_poller``): it has the
database the explanation reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from typing import Annotated

import typer

from fullon_account_service.cli import event_loop
from fullon_account_service.cli.partitions import PARTITIONS_HELP, with_partitions
from fullon_account_service.cli.shared_redis import EMBEDDED_HELP, require_shared_redis
from fullon_account_service.settings import Settings
from fullon_account_service.sinks import groups

GROUPS = (groups.CACHE, groups.ORM)
"""As ``sinks.runner.GROUPS``, from names kept apart so that ``sink --help`` imports none of the sinks."""


async def _run(settings: Settings, group: str, consumer: str) -> None:
    from fullon_account_service.metrics.runtime import (
        PeriodicReading,
        StreamStatePoller,
        sink_metrics,
        start_metrics,
    )
    from fullon_account_service.metrics.sensor import NULL_SENSOR
    from fullon_account_service.redis_client import make_redis
    from fullon_account_service.sinks.runner import run_sink
    from fullon_account_service.storage.db.engine import make_engine, make_session_factory
    from fullon_account_service.verify.explained_poller import ExplainPoller

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    redis = make_redis(settings)
    sensor = start_metrics(settings)
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    pollers: list[PeriodicReading] = [
        StreamStatePoller(redis, settings.stream_prefix, sensor, partitions=settings.stream_partitions)
    ]
    if group == "orm" and sensor is not NULL_SENSOR:
        explainer = ExplainPoller(
            settings.database_url,
            redis,
            sensor,
            prefix=settings.stream_prefix,
            band_ms=settings.explain_band_ms,
            partitions=settings.stream_partitions,
        )
        pollers.append(explainer)
    for poller in pollers:
        poller.start(stop)
    try:
        await run_sink(
            settings, group, consumer, redis, stop, session_factory=factory, wrap=sink_metrics(sensor, group)
        )
    finally:
        for poller in pollers:
            await poller.aclose()
        await engine.dispose()
        await redis.aclose()


def sink(
    group: Annotated[str, typer.Option(help=f"Consumer group: {' or '.join(GROUPS)}.")],
    consumer: Annotated[str | None, typer.Option(help="Consumer name; default host-pid.")] = None,
    embedded: Annotated[bool, typer.Option("--embedded", help=EMBEDDED_HELP)] = False,
    partitions: Annotated[int | None, typer.Option(min=1, help=PARTITIONS_HELP)] = None,
) -> None:
    """Store events from the bus: balances and positions (cache), orders, trades and ledger
    entries (orm)."""
    if group not in GROUPS:
        typer.echo(f"--group must be one of {', '.join(GROUPS)}, not {group!r}", err=True)
        raise typer.Exit(2)
    settings = with_partitions(Settings.from_env(), partitions)
    require_shared_redis(settings, embedded=embedded, command="sink")
    name = consumer or f"{socket.gethostname()}-{os.getpid()}"
    event_loop.run(_run(settings, group, name))
