"""``fullon-account producer``: collect every account (or ``--ex-id N``) until SIGTERM or Ctrl-C.

By default producers share the accounts through leases in Redis (``producers.lease_pool``): start
as many as needed, anywhere, and they split the API keys fairly, take over a dead one's accounts
within ``ACCOUNT_LEASE_TTL_S`` and hand a share to a new one. ``--shard i/n`` is the static
alternative: replica i of n takes the accounts whose ex_id hashes to its index, without leases.

Exchange URLs can be overridden per ccxt id with a JSON file named by
``ACCOUNT_EXCHANGE_OVERRIDES`` (``{"kraken": {"urls": ...}}``), e.g. to point the producer at
``fullon-account simulate``; credentials never come from that file.

With no Redis configured it refuses to start (exit 2) unless ``--embedded``: a producer alone on
an in-process Redis publishes to nobody (``cli.shared_redis``). The check runs before the daemon,
and ccxt with it, is imported, so the message is immediate.
"""

from __future__ import annotations

from typing import Annotated

import typer

from fullon_account_service.cli import event_loop
from fullon_account_service.cli.partitions import PARTITIONS_HELP, with_partitions
from fullon_account_service.cli.shared_redis import EMBEDDED_HELP, require_shared_redis
from fullon_account_service.errors import ConfigError
from fullon_account_service.settings import Settings


def producer(
    ex_id: Annotated[list[int] | None, typer.Option("--ex-id", help="Only this ex_id (repeatable).")] = None,
    shard: Annotated[
        str | None,
        typer.Option(help="Static mode instead of leases: replica i of n, as i/n (stable hash of ex_id)."),
    ] = None,
    embedded: Annotated[bool, typer.Option("--embedded", help=EMBEDDED_HELP)] = False,
    partitions: Annotated[int | None, typer.Option(min=1, help=PARTITIONS_HELP)] = None,
) -> None:
    """Watch exchange accounts and publish their events to the bus."""
    from fullon_account_service.producers.discovery import Shard

    try:
        settings = with_partitions(Settings.from_env(), partitions)
        parsed = Shard.parse(shard) if shard else None
    except ConfigError as e:
        typer.echo(f"configuration error: {e}", err=True)
        raise typer.Exit(2) from None
    require_shared_redis(settings, embedded=embedded, command="producer")
    from fullon_account_service.producers.daemon import AccountDaemon

    daemon = AccountDaemon(settings=settings, ex_ids=set(ex_id) if ex_id else None, shard=parsed)
    try:
        event_loop.run(daemon.start())
    except ConfigError as e:
        typer.echo(f"configuration error: {e}", err=True)
        raise typer.Exit(2) from None
