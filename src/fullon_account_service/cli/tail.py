"""``fullon-account tail``: watch the event streams live, without side effects.

It reads with plain XREAD and never joins a consumer group, so it can be pointed at production
streams safely: nothing is claimed, acknowledged or trimmed because someone was watching.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from fullon_account_service.cli.shared_redis import reader_settings


def tail(
    kind: Annotated[
        list[str] | None, typer.Option("--kind", "-k", help="Only this kind (repeatable).")
    ] = None,
    since: Annotated[
        str, typer.Option("--from", help="now, a stream id, an ISO time (UTC if naive) or epoch seconds.")
    ] = "now",
    ex_id: Annotated[
        list[int] | None, typer.Option("--ex-id", help="Only this account (repeatable).")
    ] = None,
    exchange: Annotated[
        list[str] | None, typer.Option("--exchange", help="Only this ccxt id (repeatable).")
    ] = None,
    symbol: Annotated[
        list[str] | None, typer.Option("--symbol", help="Only this symbol (repeatable).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    dlq: Annotated[bool, typer.Option("--dlq", help="Show dead letters and their reasons.")] = False,
    count: Annotated[int | None, typer.Option("--count", min=1, help="Exit after this many events.")] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0, help="Exit after this many seconds.")
    ] = None,
) -> None:
    """Follow the event streams (or the dead letters) without joining a consumer group."""
    settings = reader_settings("tail")
    from redis import exceptions as rex

    from fullon_account_service.bus.streams import dead_letter_key, event_streams
    from fullon_account_service.cli import tail_format as fmt
    from fullon_account_service.cli.tail_follow import Output, run
    from fullon_account_service.contract import KINDS

    kinds = fmt.lines_of(kind)
    unknown = sorted(kinds - set(KINDS))
    if unknown:
        raise typer.BadParameter(
            f"unknown kind {', '.join(unknown)}: expected {', '.join(KINDS)}", param_hint="--kind"
        )
    try:
        start = fmt.start_id(since)
    except ValueError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    prefix = settings.stream_prefix
    streams = (
        [dead_letter_key(prefix)]
        if dlq
        else event_streams(prefix, [k for k in KINDS if not kinds or k in kinds], settings.stream_partitions)
    )
    filters = fmt.Filters(kinds, frozenset(ex_id or ()), fmt.lines_of(exchange), fmt.lines_of(symbol))
    out = Output(as_json, filters, count)
    try:
        asyncio.run(run(settings, streams, start, out, dlq, timeout))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
    except BrokenPipeError:
        raise typer.Exit(0) from None
    except (rex.ConnectionError, rex.TimeoutError) as e:
        typer.echo(f"error: cannot reach Redis: {e}", err=True)
        raise typer.Exit(1) from None
