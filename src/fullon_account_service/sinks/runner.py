"""Running one sink: the consumer, its handler and the database engine, until told to stop.

Everything that can fail for a while is waited out by ``Consumer.run`` under the retry policy
(``retry.RetryPolicies.outage``): a Redis outage, and a database outage, which the handler
reports as ``TransientError`` so the batch stays pending, uncounted, and is retried when the database is
back. Nothing is acknowledged before it is stored, and nothing is dropped for being late.
Setting ``stop`` (SIGTERM in the CLI) lets the batch in hand finish, commit and be acknowledged.
The consumer reads the next batch while the handler stores one (``Consumer(read_ahead=True)``),
and the ORM sink prepares that batch's rows meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import NamedTuple

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from fullon_account_service.bus.consumer import Consumer, Handler, Prepare
from fullon_account_service.errors import ConfigError
from fullon_account_service.logs import get_logger
from fullon_account_service.retry import RetryPolicies, RetryPolicy
from fullon_account_service.settings import Settings
from fullon_account_service.sinks import cache_sink, orm_sink
from fullon_account_service.sinks.accounts import KnownAccounts
from fullon_account_service.storage.account_cache import AccountCache
from fullon_account_service.storage.balance_anchors import BalanceAnchors
from fullon_account_service.storage.db.engine import make_engine, make_session_factory

log = get_logger("sink")

GROUPS: dict[str, tuple[str, ...]] = {cache_sink.GROUP: cache_sink.KINDS, orm_sink.GROUP: orm_sink.KINDS}


class Sink(NamedTuple):
    handle: Handler
    prepare: Prepare | None = None
    """Work on a batch read ahead, done while the batch before it is stored."""


def build_sink(
    group: str,
    redis: aioredis.Redis,
    session_factory: async_sessionmaker[AsyncSession],
    *,
    prefix: str,
) -> Sink:
    known = KnownAccounts(session_factory)
    if group == cache_sink.GROUP:
        anchors = BalanceAnchors(redis, prefix=prefix)
        return Sink(cache_sink.CacheSink(AccountCache(redis), known, anchors).handle)
    if group == orm_sink.GROUP:
        sink = orm_sink.OrmSink(session_factory, known)
        return Sink(sink.handle, sink.prepare)
    raise ConfigError(f"unknown sink group {group!r}: expected one of {', '.join(GROUPS)}")


def build_handler(
    group: str,
    redis: aioredis.Redis,
    session_factory: async_sessionmaker[AsyncSession],
    *,
    prefix: str,
) -> Handler:
    return build_sink(group, redis, session_factory, prefix=prefix).handle


async def run_sink(
    settings: Settings,
    group: str,
    consumer_name: str,
    redis: aioredis.Redis,
    stop: asyncio.Event,
    *,
    session_factory: async_sessionmaker[AsyncSession] | None = None,
    wrap: Callable[[Handler], Handler] | None = None,
    retry: RetryPolicy | None = None,
) -> None:
    """Consume ``group``'s streams until ``stop`` is set.

    ``session_factory`` shares an engine the caller owns; without one an engine is built from
    ``settings`` and disposed on exit. ``wrap`` decorates the handler (metrics, test hooks).
    ``retry`` paces the waits through an outage (default: ``RetryPolicies.from_settings``).
    """
    if group not in GROUPS:
        raise ConfigError(f"unknown sink group {group!r}: expected one of {', '.join(GROUPS)}")
    engine: AsyncEngine | None = None
    if session_factory is None:
        engine = make_engine(settings.database_url)
        session_factory = make_session_factory(engine)
    try:
        sink = build_sink(group, redis, session_factory, prefix=settings.stream_prefix)
        handler = sink.handle
        consumer = Consumer(
            redis,
            read_ahead=True,
            prepare=sink.prepare,
            prefix=settings.stream_prefix,
            group=group,
            consumer=consumer_name,
            kinds=GROUPS[group],
            handler=wrap(handler) if wrap is not None else handler,
            batch_size=settings.batch_size,
            claim_idle_ms=settings.claim_idle_ms,
            max_deliveries=settings.max_deliveries,
            retain_entries=settings.stream_retain,
            retry=retry or RetryPolicies.from_settings(settings).outage,
            partitions=settings.stream_partitions,
        )
        log.info("sink started", group=group, consumer=consumer_name, streams=consumer.streams)
        await consumer.run(stop)
        log.info("sink stopped", group=group, consumer=consumer_name)
    finally:
        if engine is not None:
            await engine.dispose()
