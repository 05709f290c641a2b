"""``fullon-account producer``: collect every account (or ``--ex-id N``) until SIGTERM or Ctrl-C.

``--shard i/n`` runs replica i of n: each takes the accounts whose ex_id hashes to its index, so
n replicas split the accounts without coordinating. Exchange URLs can be overridden per ccxt id
with a JSON file named by ``ACCOUNT_EXCHANGE_OVERRIDES`` (``{"kraken": {"urls": ...}}``), e.g. to
point the producer at ``fullon-account simulate``; credentials never come from that file.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from fullon_account_service.errors import ConfigError
from fullon_account_service.settings import Settings


def producer(
    ex_id: Annotated[list[int] | None, typer.Option("--ex-id", help="Only this ex_id (repeatable).")] = None,
    shard: Annotated[str | None, typer.Option(help="Replica i of n, as i/n (stable hash of ex_id).")] = None,
) -> None:
    """Watch exchange accounts and publish their events to the bus."""
    from fullon_account_service.producers.daemon import AccountDaemon
    from fullon_account_service.producers.discovery import Shard

    try:
        settings = Settings.from_env()
        parsed = Shard.parse(shard) if shard else None
    except ConfigError as e:
        typer.echo(f"configuration error: {e}", err=True)
        raise typer.Exit(2) from None
    daemon = AccountDaemon(settings=settings, ex_ids=set(ex_id) if ex_id else None, shard=parsed)
    asyncio.run(daemon.start())
