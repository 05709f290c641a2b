"""What the daemon checks and installs once at start-up, apart from running accounts.

``check_requested`` and ``check_redis`` say at once what would otherwise show up later as an
account never collecting (``--ex-id`` naming no active account: ``ConfigError``; Redis away: one
log line, since events wait in memory until it answers). ``log_background_error`` is the loop's
last-resort handler for errors of tasks ccxt spawns itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from fullon_account_service.errors import AccountServiceError, ConfigError
from fullon_account_service.logs import get_logger
from fullon_account_service.producers.discovery import Discovery
from fullon_account_service.redaction import redact_text

_log = get_logger("daemon")


async def check_requested(factory: async_sessionmaker[AsyncSession], ex_ids: Collection[int] | None) -> None:
    """``--ex-id`` naming no active account is a configuration error, said at once."""
    if not ex_ids:
        return
    try:
        active = await Discovery(factory, interval_s=1.0).snapshot()
    except AccountServiceError as e:
        _log.error("database unreachable; cannot list the accounts yet", error=str(e))
        return
    unknown = sorted(set(ex_ids) - set(active))
    if unknown:
        raise ConfigError(
            f"--ex-id {', '.join(map(str, unknown))}: no active account with this ex_id"
            " (see `fullon-account accounts list`)"
        )


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
