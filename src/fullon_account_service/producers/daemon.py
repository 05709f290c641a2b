"""``AccountDaemon``: discovers accounts, applies each one's strategy, keeps ProcessCache fresh.

Seed API: ``AccountDaemon()`` with no arguments (everything from ``Settings.from_env()``),
``await start()`` blocking until SIGTERM/SIGINT or ``stop()``, callable ``is_running()``,
``await process_exchange(exchange)`` with the three-way state check, ``await get_health()``.
Dependencies can be injected as keyword-only arguments (tests, the CLI, the demo).
``await wait_collecting(ex_ids)`` is for a caller that must not go on before the accounts it
names are collected (the demo trades only then); see ``collected`` for why it names them.

Per account (``account_set``): the capability detector picks the strategy, the collector watches
the WebSocket kinds, the poller covers the rest; an account that fails to start is marked
``error`` while the others go on. A supervisor (``upkeep``) restarts an account whose WebSocket
loops or poll loop died. ``start()`` refuses, with ``ConfigError``, a secrets file readable by others and
an ``ex_ids`` filter naming an account the database does not have.

Ownership: by default accounts are leased (``pool_membership``): every producer joins a pool in
Redis and collects the accounts whose API key it holds a lease on, a fair share that moves when a
producer dies or joins. ``shard=Shard(i, n)`` (``--shard i/n``) is the static alternative: a stable
hash of ex_id, no coordination, no takeover.

Stopping (SIGTERM/SIGINT, unless ``handle_signals=False`` leaves them to the caller, or
``stop()``) cancels every loop at once, in-flight REST calls included, gives the outbox
``SHUTDOWN_DRAIN_S`` to publish what was read and closes the clients; what was not published is
read again by the next start's reconciliation (the fill cursor never moved past it).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Collection, Coroutine
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from fullon_account_service.logs import get_logger
from fullon_account_service.metrics.runtime import start_metrics
from fullon_account_service.producers.account import AccountRef, account_ref
from fullon_account_service.producers.account_set import AccountSet
from fullon_account_service.producers.collected import CollectedAccounts
from fullon_account_service.producers.context import ProducerContext
from fullon_account_service.producers.credentials import load_secrets_file
from fullon_account_service.producers.daemon_checks import (
    check_accounts,
    check_redis,
    engine_of,
    log_background_error,
)
from fullon_account_service.producers.discovery import Discovery, Shard
from fullon_account_service.producers.lease_pool import Apply, LeasePool
from fullon_account_service.producers.live_collector import LiveAccountCollector
from fullon_account_service.producers.pool_membership import PoolMembership
from fullon_account_service.producers.rest_poller import RestAccountPoller
from fullon_account_service.producers.upkeep import Upkeep
from fullon_account_service.settings import Settings
from fullon_account_service.storage.db.engine import make_engine, make_session_factory
from fullon_account_service.supervisor import TaskSupervisor

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
        handle_signals: bool = True,
    ) -> None:
        self._handle_signals = handle_signals
        self._supervise_interval_s = supervise_interval_s
        self._tasks = TaskSupervisor("daemon")
        self._settings = settings
        self._context = context
        self._factory = session_factory
        self._engine: AsyncEngine | None = None
        self._ex_ids = ex_ids
        self._shard = shard
        self._set: AccountSet | None = None
        self._collected = CollectedAccounts()
        self._upkeep: Upkeep | None = None
        self._stop = asyncio.Event()
        self._stop_requests = 0
        self._finished: asyncio.Event | None = None
        self._running = False
        self._started_at: float | None = None
        self.discovery: Discovery | None = None
        self._membership: PoolMembership | None = None
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

    @property
    def live_collector(self) -> LiveAccountCollector | None:
        return self._set.live_collector if self._set else None

    @property
    def rest_poller(self) -> RestAccountPoller | None:
        return self._set.rest_poller if self._set else None

    @property
    def pool(self) -> LeasePool | None:
        """The lease pool this daemon collects through (``None`` when sharded or stopped)."""
        return self._membership.pool if self._membership else None

    def is_running(self) -> bool:
        return self._running

    async def wait_collecting(self, ex_ids: Collection[int]) -> bool:
        """``True`` once this daemon collects every account of ``ex_ids`` (it may be called before
        ``start()`` runs); ``False`` if the daemon stops first, or was stopped and not started
        again. An account whose lease is lost meanwhile is waited for again. No deadline of its
        own: the caller bounds it."""
        return await self._collected.wait(ex_ids)

    @property
    def collected(self) -> frozenset[int]:
        """The accounts this daemon collects now (started without error, not stopped since)."""
        return self._collected.ex_ids

    def _session_factory(self) -> async_sessionmaker[AsyncSession]:
        if self._factory is None:
            self._engine = make_engine(self.settings.database_url)
            self._factory = make_session_factory(self._engine)
        return self._factory

    def _own_sqlite_url(self) -> str | None:
        """The embedded database's URL when this daemon opened it itself from the settings."""
        own = self._engine is not None and self.settings.is_sqlite
        return self.settings.database_url if own else None

    def _ensure_components(self) -> AccountSet:
        if self._set is None or self._upkeep is None:
            self._upkeep = Upkeep(
                self.context, interval_s=self._supervise_interval_s, heap_trim_s=self.settings.heap_trim_s
            )
            self._set = AccountSet(
                self.context, self._upkeep.heartbeat, self._collected, restart_rekeyed=self._shard is not None
            )
            self._collected.reopen()
        return self._set

    def start(self) -> Coroutine[Any, Any, None]:
        """Discover and collect every account until SIGTERM/SIGINT or ``stop()``.

        A ``stop()`` made after this call but before its coroutine begins (``create_task``, then
        ``stop()`` in the same turn) ends it at once, so whoever awaits that task is not left
        waiting on a daemon that was told to stop. A ``stop()`` before this call does not count:
        a stopped daemon can be started again.
        """
        return self._run(self._stop_requests)

    async def _run(self, stop_requests: int) -> None:
        if self._stop_requests != stop_requests:
            return
        self.logger.info("Starting AccountDaemon")
        self._stop.clear()
        self._finished = asyncio.Event()
        loop = asyncio.get_running_loop()
        installed = []
        try:
            if self.settings.secrets_file is not None:
                load_secrets_file(self.settings.secrets_file)
            accounts = self._ensure_components()
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
            loop.set_exception_handler(log_background_error)
            for sig in (signal.SIGTERM, signal.SIGINT) if self._handle_signals else ():
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, self._request_stop)
                    installed.append(sig)
            self._start_upkeep(accounts)
            apply: Apply = accounts.apply
            if self._shard is None:
                self._membership = PoolMembership(self.context, self.settings, accounts.apply)
                apply = self._membership.start(self._tasks, self._stop)
            await check_accounts(factory, self._ex_ids, sqlite_url=self._own_sqlite_url())
            await check_redis(self.context.redis)
            await self.discovery.run(apply, self._stop)
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            finished, self._finished = self._finished, None
            await self._shutdown()
            finished.set()

    def _start_upkeep(self, accounts: AccountSet) -> None:
        assert self._upkeep is not None
        self._upkeep.start(self._tasks, self._stop, accounts.restart_dead)

    async def process_exchange(self, exchange: Any) -> None:
        """Collect one exchange: added to a running daemon, or started on its own."""
        ref = account_ref(exchange)
        if self._set is not None:
            if not self._set.is_collecting(ref):
                await self._set.start(ref)
            return
        self.logger.info(
            "Starting account collection for single exchange", exchange_id=ref.ex_id, exchange=ref.venue
        )
        accounts = self._ensure_components()
        self._running = True
        self._started_at = self._started_at or time.time()
        self._start_upkeep(accounts)
        await accounts.start(ref)

    @property
    def accounts(self) -> dict[int, AccountRef]:
        return dict(self._set.accounts) if self._set else {}

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
        self._stop_requests += 1
        self._stop.set()
        if self.discovery is not None:
            self.discovery.wake()

    async def _shutdown(self) -> None:
        self._stop.set()
        self._collected.close()
        if not self._running and self._set is None:
            return
        self.logger.info("Stopping AccountDaemon")
        await self._tasks.cancel_all()
        accounts, self._set = self._set, None
        if accounts is not None:
            await accounts.close()
        membership, self._membership = self._membership, None
        if membership is not None:
            await membership.leave(SHUTDOWN_DRAIN_S)
        if accounts is not None:
            if self._upkeep is not None:
                await self._upkeep.unregister(list(accounts.accounts), SHUTDOWN_DRAIN_S)
            accounts.clear()
        self._upkeep = None
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
            "exchanges_monitored": len(self._set.accounts) if self._set else 0,
            "last_health_check": now,
            "live_collector": "active" if self.live_collector else "inactive",
            "rest_poller": "active" if self.rest_poller else "inactive",
        }
