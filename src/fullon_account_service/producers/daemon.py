"""``AccountDaemon``: discovers accounts, applies each one's strategy, keeps ProcessCache fresh.

Seed API: ``AccountDaemon()`` with no arguments (everything from ``Settings.from_env()``),
``await start()`` blocking until SIGTERM/SIGINT or ``stop()``, callable ``is_running()``,
``await process_exchange(exchange)`` with the three-way state check, ``await get_health()``.
Dependencies can be injected as keyword-only arguments (tests, the CLI).

Per account: the capability detector picks the strategy, the collector watches the WebSocket
kinds, the poller covers the rest (and fills, always). A failure to start one account (missing or
rejected credentials) marks that account ``error`` in ProcessCache with the reason and says so on
the log at once; the others go on. A supervisor restarts an account whose WebSocket loops or
poll loop died. ``start()`` refuses, with ``ConfigError``, a secrets file readable by others and
an ``ex_ids`` filter naming an account the database does not have.

Ownership: by default accounts are leased (``lease_pool``): every producer joins a pool in Redis
and collects the accounts whose API key it holds a lease on, a fair share that moves when a
producer dies or joins. ``shard=Shard(i, n)`` (``--shard i/n``) is the static alternative: a stable
hash of ex_id, no coordination, no takeover.

Stopping (SIGTERM/SIGINT or ``stop()``) cancels every loop at once, in-flight REST calls
included, gives the outbox ``SHUTDOWN_DRAIN_S`` to publish what was read and closes the clients;
what was not published is read again by the next start's reconciliation (the fill cursor never
moved past it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import time
from collections.abc import Collection
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from fullon_account_service.errors import AccountServiceError, CredentialsError
from fullon_account_service.logs import get_logger
from fullon_account_service.metrics.runtime import start_metrics
from fullon_account_service.producers.account import AccountRef, account_ref
from fullon_account_service.producers.context import ProducerContext
from fullon_account_service.producers.credentials import load_secrets_file
from fullon_account_service.producers.daemon_checks import (
    check_redis,
    check_requested,
    engine_of,
    log_background_error,
)
from fullon_account_service.producers.discovery import Discovery, Shard
from fullon_account_service.producers.heap_trim import trim_heap_every
from fullon_account_service.producers.heartbeat import Heartbeat
from fullon_account_service.producers.lease_pool import LeasePool
from fullon_account_service.producers.leases import LeaseStore, lease_id
from fullon_account_service.producers.live_collector import LiveAccountCollector
from fullon_account_service.producers.redis_restart import RedisRestartWatch
from fullon_account_service.producers.rest_poller import RestAccountPoller
from fullon_account_service.settings import Settings
from fullon_account_service.storage.db.engine import make_engine, make_session_factory
from fullon_account_service.storage.process_cache import ProcessCache
from fullon_account_service.supervisor import TaskSupervisor, restarting

_log = get_logger("daemon")
SERVICE = "fullon_account_service"
SHUTDOWN_DRAIN_S = 2.0


class AccountDaemon:
    def __init__(
        self,
        *,
        settings: Settings | None = None,
        context: ProducerContext | None = None,
        session_factory: async_sessionmaker[AsyncSession] | None = None,
        ex_ids: Collection[int] | None = None,
        shard: Shard | None = None,
        supervise_interval_s: float = 5.0,
    ) -> None:
        self._supervise_interval_s = supervise_interval_s
        self._tasks = TaskSupervisor("daemon")
        self._settings = settings
        self._context = context
        self._factory = session_factory
        self._engine: AsyncEngine | None = None
        self._ex_ids = ex_ids
        self._shard = shard
        self.live_collector: LiveAccountCollector | None = None
        self.rest_poller: RestAccountPoller | None = None
        self._accounts: dict[int, AccountRef] = {}
        self._heartbeat: Heartbeat | None = None
        self._restart_watch: RedisRestartWatch | None = None
        self._background: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        self._finished: asyncio.Event | None = None
        self._running = False
        self._started_at: float | None = None
        self.discovery: Discovery | None = None
        self.pool: LeasePool | None = None
        self.logger = get_logger("daemon")

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = self._context.settings if self._context else Settings.from_env()
        return self._settings

    @property
    def context(self) -> ProducerContext:
        if self._context is None:
            self._context = ProducerContext.from_settings(self.settings, sensor=start_metrics(self.settings))
        return self._context

    def is_running(self) -> bool:
        return self._running

    def _session_factory(self) -> async_sessionmaker[AsyncSession]:
        if self._factory is None:
            self._engine = make_engine(self.settings.database_url)
            self._factory = make_session_factory(self._engine)
        return self._factory

    def _ensure_components(self) -> None:
        ctx = self.context
        if self.live_collector is None:
            self.live_collector = LiveAccountCollector(context=ctx)
        if self.rest_poller is None:
            self.rest_poller = RestAccountPoller(context=ctx)
        if self._heartbeat is None:
            self._heartbeat = Heartbeat(ProcessCache(ctx.redis), ctx, fences=ctx.cursors.fences)
        if self._restart_watch is None:
            self._restart_watch = RedisRestartWatch(ctx.redis, ctx.outbox.states, ctx.registry.sessions)

    async def start(self) -> None:
        """Discover and collect every account until SIGTERM/SIGINT or ``stop()``."""
        self.logger.info("Starting AccountDaemon")
        if self.settings.secrets_file is not None:
            load_secrets_file(self.settings.secrets_file)
        self._stop.clear()
        self._finished = asyncio.Event()
        self._ensure_components()
        self._running = True
        self._started_at = time.time()
        factory = self._session_factory()
        self.discovery = Discovery(
            factory,
            interval_s=self.settings.rediscover_interval_s,
            ex_ids=self._ex_ids,
            shard=self._shard,
            engine=self._engine or engine_of(factory),
            retry=self.context.retry.outage,
        )
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(log_background_error)
        installed = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._request_stop)
                installed.append(sig)
        self._start_heartbeat()
        apply = self._apply
        if self._shard is None:
            self.pool = self._lease_pool()
            apply = self.pool.offer
            pool, stop = self.pool, self._stop
            self._tasks.spawn(
                restarting(lambda: pool.run(stop), self.context.retry.outage.start(), loop="leases"),
                name="daemon-leases",
            )
        try:
            await check_requested(factory, self._ex_ids)
            await check_redis(self.context.redis)
            await self.discovery.run(apply, self._stop)
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            finished, self._finished = self._finished, None
            await self._shutdown()
            finished.set()

    def _lease_pool(self) -> LeasePool:
        ctx = self.context
        owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        store = LeaseStore(
            ctx.redis, prefix=self.settings.stream_prefix, owner=owner, ttl_s=self.settings.lease_ttl_s
        )
        self.logger.info(
            "joining the producer pool",
            producer=owner,
            lease_ttl_s=self.settings.lease_ttl_s,
            lease_renew_s=self.settings.lease_renew_s,
        )
        return LeasePool(
            store,
            ctx.cursors,
            self._lease_of,
            self._apply,
            ttl_s=self.settings.lease_ttl_s,
            renew_s=self.settings.lease_renew_s,
        )

    def _lease_of(self, ref: AccountRef) -> str:
        """The lease an account is collected under: its API key's (an account without credentials
        gets one of its own, and reports its error once started)."""
        try:
            key = self.context.registry.resolver.resolve(ref.ex_id).owner_key
        except CredentialsError:
            key = f"ex_id:{ref.ex_id}"
        return lease_id(ref.venue, key)

    def _start_heartbeat(self) -> None:
        """One ProcessCache heartbeat, one loop supervisor and one heap trimmer per daemon,
        whether it runs all accounts or single ones."""
        assert self._heartbeat is not None
        if not self._background:
            self._background = [
                self._tasks.spawn(self._heartbeat.run(self._stop), name="daemon-heartbeat"),
                self._tasks.spawn(self._supervise(), name="daemon-supervisor"),
                self._tasks.spawn(
                    trim_heap_every(self.settings.heap_trim_s, self._stop), name="daemon-heap-trim"
                ),
            ]

    async def _supervise(self) -> None:
        """Restart the loops of accounts whose WebSocket or poll loops died; read everything again
        after a Redis restart (``redis_restart``)."""
        while not self._stop.is_set():
            if self._restart_watch is not None:
                await self._restart_watch.check()
            try:
                async with asyncio.timeout(self._supervise_interval_s):
                    await self._stop.wait()
                return
            except TimeoutError:
                pass
            if self.live_collector is not None:
                await self.live_collector.restart_dead()
            if self.rest_poller is not None:
                for ref in list(self._accounts.values()):
                    if not self.rest_poller.is_polling(ref):
                        self.logger.warning(
                            "poll loop of an account ended; restarting it", exchange_id=ref.ex_id
                        )
                        await self.rest_poller.start_exchange(ref)

    async def _apply(self, wanted: dict[int, AccountRef]) -> None:
        if not self._accounts and wanted:
            self.logger.info(
                "AccountDaemon started successfully",
                exchange_count=len(wanted),
                exchanges=sorted({r.venue for r in wanted.values()}),
            )
        for ex_id in [e for e, ref in self._accounts.items() if wanted.get(e) != ref]:
            await self._stop_account(ex_id)
        for ex_id, ref in wanted.items():
            if ex_id not in self._accounts:
                await self._start_exchange_with_strategy(ref)

    async def process_exchange(self, exchange: Any) -> None:
        """Collect one exchange: added to a running daemon, or started on its own."""
        ref = account_ref(exchange)
        if self.live_collector and self.rest_poller:
            if self.live_collector.is_collecting(ref) or self.rest_poller.is_polling(ref):
                return
            await self._start_exchange_with_strategy(ref)
        elif not self.live_collector and not self.rest_poller:
            self.logger.info(
                "Starting account collection for single exchange", exchange_id=ref.ex_id, exchange=ref.venue
            )
            self._ensure_components()
            self._running = True
            self._started_at = self._started_at or time.time()
            self._start_heartbeat()
            await self._start_exchange_with_strategy(ref)
        else:
            self.logger.error("Daemon in inconsistent state", exchange_id=ref.ex_id)

    async def _start_exchange_with_strategy(self, ref: AccountRef) -> None:
        assert self.live_collector is not None and self.rest_poller is not None and self._heartbeat
        ctx = self.context
        self._accounts[ref.ex_id] = ref
        strategy = ctx.detector.strategy(ctx.detector.capabilities(ref))
        self.logger.info(
            "Applying collection strategy",
            exchange_id=ref.ex_id,
            exchange_name=ref.venue,
            strategy=strategy.name,
        )
        await self._heartbeat.register(ref, strategy.name)
        try:
            await self.live_collector.start_exchange(ref)
            await self.rest_poller.start_exchange(ref)
        except AccountServiceError as e:
            ctx.set_status(ref.ex_id, "error", str(e))
            self.logger.warning("account not collecting", exchange_id=ref.ex_id, error=str(e))
            await self.live_collector.stop_exchange(ref)
            await self.rest_poller.stop_exchange(ref)
        await self._heartbeat.beat(ref.ex_id, force=True)

    async def _stop_account(self, ex_id: int) -> None:
        ref = self._accounts.pop(ex_id)
        if self.live_collector:
            await self.live_collector.stop_exchange(ref)
        if self.rest_poller:
            await self.rest_poller.stop_exchange(ref)
        self.context.detector.forget(ex_id)
        self.context.status.pop(ex_id, None)
        if self._heartbeat:
            await self._heartbeat.unregister(ex_id)
        self.logger.info("stopped account", exchange_id=ex_id)

    @property
    def accounts(self) -> dict[int, AccountRef]:
        return dict(self._accounts)

    async def stop(self) -> None:
        """Stop collecting, mark every process stopped, release clients; safe to call twice.

        While ``start()`` runs, this asks it to stop and waits for its clean-up, so the two never
        tear the same accounts down concurrently.
        """
        self._request_stop()
        if self._finished is not None:
            await self._finished.wait()
            return
        await self._shutdown()

    def _request_stop(self) -> None:
        """Stop now: discovery waits on its interval, so it is woken too."""
        self._stop.set()
        if self.discovery is not None:
            self.discovery.wake()

    async def _shutdown(self) -> None:
        if not self._running and self.live_collector is None:
            return
        self.logger.info("Stopping AccountDaemon")
        self._stop.set()
        await self._tasks.cancel_all()
        self._background = []
        await asyncio.gather(
            *(c.stop_collection() for c in [self.live_collector] if c),
            *(p.stop_polling() for p in [self.rest_poller] if p),
        )
        pool, self.pool = self.pool, None
        if pool is not None:
            try:
                async with asyncio.timeout(SHUTDOWN_DRAIN_S):
                    await pool.leave()
            except TimeoutError:
                self.logger.warning("leases not released at shutdown; they expire by themselves")
        heartbeat = self._heartbeat
        if heartbeat is not None:
            try:
                async with asyncio.timeout(SHUTDOWN_DRAIN_S):
                    await asyncio.gather(*(heartbeat.unregister(ex_id) for ex_id in list(self._accounts)))
            except TimeoutError:
                self.logger.warning("ProcessCache not updated at shutdown; entries age out")
        for ex_id in list(self._accounts):
            self.context.detector.forget(ex_id)
            self.context.status.pop(ex_id, None)
        self._accounts.clear()
        self.live_collector = self.rest_poller = self._heartbeat = None
        if self._context is not None:
            await self._context.close(drain_s=SHUTDOWN_DRAIN_S)
            self._context = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine, self._factory = None, None
        self._running = False
        self.logger.info("AccountDaemon stopped successfully")

    async def get_health(self) -> dict[str, Any]:
        now = time.time()
        return {
            "service": SERVICE,
            "is_running": self._running,
            "uptime_seconds": now - self._started_at if self._started_at and self._running else 0.0,
            "exchanges_monitored": len(self._accounts),
            "last_health_check": now,
            "live_collector": "active" if self.live_collector else "inactive",
            "rest_poller": "active" if self.rest_poller else "inactive",
        }
