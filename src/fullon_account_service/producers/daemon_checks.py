"""What the daemon checks and installs once at start-up, apart from running accounts.

``check_accounts`` and ``check_redis`` say at once what would otherwise show up later as an
account never collecting (``--ex-id`` naming no active account, or a database that refuses to
list the accounts at all, a schema never migrated: ``ConfigError``; a database or Redis away: one
log line, since discovery retries and events wait in memory until Redis answers).
``log_background_error`` is the loop's last-resort handler for errors of tasks ccxt spawns itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from fullon_account_service.errors import AccountServiceError, ConfigError, StorageUnavailable
from fullon_account_service.logs import get_logger
from fullon_account_service.producers.discovery import Discovery
from fullon_account_service.redaction import redact_text

_log = get_logger("daemon")


async def check_accounts(
    factory: async_sessionmaker[AsyncSession], ex_ids: Collection[int] | None, *, sqlite_url: str | None
) -> None:
    """``--ex-id`` naming no active account, or a database without the accounts' tables, is a
    configuration error, said at once; a database that does not answer is waited for.

    ``sqlite_url``: the embedded database this daemon opened itself, whose schema it brings up to
    date as the ``accounts`` commands do (PostgreSQL's is a deploy step, ``db upgrade``)."""
    try:
        active = await _active_accounts(factory, sqlite_url)
    except StorageUnavailable as e:
        raise ConfigError(
            f"the database refuses to list the accounts ({e}); run `fullon-account db upgrade`"
            " or point DATABASE_URL at fullon's database"
        ) from None
    except AccountServiceError as e:
        _log.error("database unreachable; cannot list the accounts yet", error=str(e))
        return
    if not ex_ids:
        return
    unknown = sorted(set(ex_ids) - set(active))
    if unknown:
        raise ConfigError(
            f"--ex-id {', '.join(map(str, unknown))}: no active account with this ex_id"
            " (see `fullon-account accounts list`)"
        )


async def _active_accounts(
    factory: async_sessionmaker[AsyncSession], sqlite_url: str | None
) -> Collection[int]:
    discovery = Discovery(factory, interval_s=1.0)
    try:
        return await discovery.snapshot()
    except StorageUnavailable:
        if sqlite_url is None:
            raise
    from fullon_account_service.storage.db.migrate import upgrade

    await upgrade(sqlite_url)
    return await discovery.snapshot()


async def check_redis(redis: aioredis.Redis) -> None:
    try:
        await redis.ping()
    except Exception as e:
        _log.error(
            "redis unreachable; events wait in memory until it answers",
            error=redact_text(f"{type(e).__name__}: {e}")[:300],
        )


def log_background_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """asyncio's last resort for errors nobody awaited (ccxt spawns REST snapshots and socket
    callbacks of its own): one redacted log line instead of a traceback on the producer's output.
    Installed on the daemon's loop for the rest of the loop's life, since such errors surface when
    a future is collected, often after the daemon stopped."""
    error = context.get("exception")
    text = f"{type(error).__name__}: {error}" if error is not None else ""
    _log.warning(
        "background error in a library task",
        message=redact_text(str(context.get("message", "")))[:200],
        error=redact_text(text)[:300],
    )


def engine_of(factory: async_sessionmaker[AsyncSession]) -> AsyncEngine | None:
    bind = factory.kw.get("bind")
    return bind if isinstance(bind, AsyncEngine) else None
