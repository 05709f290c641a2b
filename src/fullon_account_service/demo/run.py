"""The demo from start to verdict, in one process.

Order of things: a fresh SQLite database (migrated), the simulator, the accounts registered
through the ``accounts add`` code path, both sinks and the producer daemon on the in-process
Redis, then the scenario. When the duration is up (or on Ctrl-C) the scenario stops, the books
settle (``settle``), the producer and the sinks shut down cleanly and the verdict is returned.
A second Ctrl-C cuts the settling short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import TextIO

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fullon_account_service.bus.consumer import Handler
from fullon_account_service.demo.counters import EventCounter
from fullon_account_service.demo.report import DemoResult
from fullon_account_service.demo.screen import Screen
from fullon_account_service.demo.settle import Settled, Settler
from fullon_account_service.demo.snapshot import Snapshot
from fullon_account_service.demo.state import StateReader
from fullon_account_service.demo.wiring import (
    DemoAccount,
    DemoOptions,
    DemoPaths,
    credentials_env,
    demo_settings,
    producer_context,
    register_accounts,
    truth_keys,
)
from fullon_account_service.errors import AccountServiceError
from fullon_account_service.logs import configure_logging, get_logger
from fullon_account_service.metrics.runtime import StreamStatePoller, sink_metrics, start_metrics
from fullon_account_service.metrics.sensor import NULL_SENSOR, Sensor
from fullon_account_service.producers.daemon import AccountDaemon
from fullon_account_service.redis_client import make_redis
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator
from fullon_account_service.sinks.runner import GROUPS, run_sink
from fullon_account_service.storage.db.engine import make_engine, make_session_factory
from fullon_account_service.storage.db.migrate import upgrade
from fullon_account_service.supervisor import TaskSupervisor
from fullon_account_service.verify.books import verify_books
from fullon_account_service.verify.compare import BooksComparison
from fullon_account_service.verify.explained import AccountExplanation, explain_accounts

_log = get_logger("demo")
SHUTDOWN_TIMEOUT_S = 15.0
SIGNAL_REPEAT_S = 1.0
COLLECTING_TIMEOUT_S = 120.0
SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def logging_to(file: TextIO, settings: Settings, restore: Settings) -> Iterator[None]:
    """Every log record and warning into ``file`` while the dashboard owns the terminal."""
    configure_logging(settings, stream=file)
    logging.captureWarnings(True)
    try:
        yield
    finally:
        logging.captureWarnings(False)
        configure_logging(restore)


async def run_demo(options: DemoOptions, base: Settings, screen: Screen) -> DemoResult:
    """Run on ``screen``, which the caller has started (its first frame drawn before this module's
    imports, which take seconds) and stops after the final frame."""
    paths = DemoPaths.new(Path(base.data_dir))
    settings = demo_settings(base, options, paths)
    paths.database.parent.mkdir(parents=True, exist_ok=True)
    screen.say(f"fullon-account demo: database {paths.database}")
    screen.say(f"fullon-account demo: logs go to {paths.log}")
    with paths.log.open("a", encoding="utf-8") as log_file, logging_to(log_file, settings, base):
        return await Demo(options, settings, paths, screen).run()


async def wait_collecting(daemon: AccountDaemon, ex_ids: Collection[int], timeout_s: float) -> str | None:
    """``None`` once the producer collects every account of ``ex_ids``; otherwise why not: it
    stopped first, or ``timeout_s`` passed (the accounts not collected named).

    The demo trades only then: on a cold start (a fresh clone, nothing compiled yet) the
    producer's imports and leases took 5-14 s, and trades made before it collects reach it only
    through REST history, so the books still match but the balance changes between them are never
    seen one by one and no balance window can be judged."""
    try:
        async with asyncio.timeout(timeout_s):
            if await daemon.wait_collecting(ex_ids):
                return None
            return "the producer stopped before it collected every account"
    except TimeoutError:
        missing = sorted(set(ex_ids) - daemon.collected)
        return f"the producer did not collect ex_ids {missing} within {timeout_s:g}s"


class Demo:
    def __init__(self, options: DemoOptions, settings: Settings, paths: DemoPaths, screen: Screen) -> None:
        self.options = options
        self.settings = settings
        self.paths = paths
        self.screen = screen
        self.phase = "starting"
        self.counter = EventCounter()
        self.sensor: Sensor = start_metrics(settings)
        self.tasks = TaskSupervisor("demo")
        self._end_run = asyncio.Event()
        self._abort_settle = asyncio.Event()
        self._stop_sinks = asyncio.Event()
        self._problems: list[str] = []
        self._interrupted_at: float | None = None

    async def run(self) -> DemoResult:
        await upgrade(self.settings.database_url)
        engine = make_engine(self.settings.database_url)
        clients = [make_redis(self.settings) for _ in range(4)]
        try:
            factory = make_session_factory(engine)
            config = ScenarioConfig(
                accounts_per_venue=self.options.accounts_per_venue,
                seed=self.options.seed,
                rate_per_s=self.options.rate_per_s,
            )
            async with Simulator(config) as sim:
                accounts = await register_accounts(sim, self.settings.database_url)
                return await self._run_world(sim, accounts, factory, clients)
        finally:
            for client in clients:
                await client.aclose()
            await engine.dispose()

    async def _run_world(
        self,
        sim: Simulator,
        accounts: list[DemoAccount],
        factory: async_sessionmaker[AsyncSession],
        clients: list[aioredis.Redis],
    ) -> DemoResult:
        producer_redis, cache_redis, orm_redis, reader_redis = clients
        prefix, partitions = self.settings.stream_prefix, self.settings.stream_partitions
        ctx = producer_context(
            sim, self.settings, producer_redis, credentials_env(sim, accounts), self.options, self.sensor
        )
        daemon = AccountDaemon(
            settings=self.settings, context=ctx, session_factory=factory, handle_signals=False
        )
        sinks = [
            self.tasks.spawn(
                run_sink(
                    self.settings,
                    group,
                    f"demo-{group}",
                    redis,
                    self._stop_sinks,
                    session_factory=factory,
                    wrap=self._wrap(group),
                ),
                name=f"demo-sink-{group}",
            )
            for group, redis in zip(GROUPS, (cache_redis, orm_redis), strict=True)
        ]
        producer = self.tasks.spawn(daemon.start(), name="demo-producer")
        reader = StateReader(
            accounts=accounts,
            context=ctx,
            refs=lambda: daemon.accounts,
            counter=self.counter,
            redis=reader_redis,
            session_factory=factory,
            steps=lambda: sim.engine.steps,
            prefix=prefix,
            partitions=partitions,
            poll_interval_s=self.options.poll_interval_s,
            log_path=str(self.paths.log),
            duration_s=self.options.duration_s,
        )
        keys = truth_keys(accounts)

        async def verify() -> BooksComparison:
            return await verify_books(sim.truth(), keys, factory, reader_redis)

        settler = Settler(
            context=ctx,
            cycles=lambda: daemon.rest_poller.cycles if daemon.rest_poller else {},
            ex_ids=list(keys.values()),
            redis=reader_redis,
            prefix=prefix,
            partitions=partitions,
            verify=verify,
        )
        poller = StreamStatePoller(reader_redis, prefix, self.sensor, partitions=partitions, interval_s=5.0)
        if self.sensor is not NULL_SENSOR:
            poller.start(self._stop_sinks)
        refresher = self.tasks.spawn(self._refresh(reader), name="demo-dashboard")
        final: Snapshot | None = None
        try:
            self._take_over_signals()
            not_collecting = await wait_collecting(daemon, list(keys.values()), COLLECTING_TIMEOUT_S)
            if not_collecting is not None:
                _log.warning("trading starts before the producer collects every account", why=not_collecting)
            settled = await self._scenario(sim, settler)
            explained = await self._explain(reader_redis, keys.values())
            await self.tasks.cancel(refresher)
            self.phase = "done"
            with contextlib.suppress(AccountServiceError):
                final = await reader.read(self.phase)  # while the producer still knows its accounts
        finally:
            await self.tasks.cancel(refresher)
            await self._shutdown(daemon, producer, sinks)
            await poller.aclose()
            self._release_signals()
        if final is not None:
            self.screen.show(final, force=True)
        return DemoResult(
            accounts=accounts,
            events_by_kind=dict(self.counter.by_kind),
            scenario_steps=sim.engine.steps,
            comparison=settled.comparison,
            caught_up=settled.caught_up,
            settle_s=settled.waited_s,
            settle_note=settled.note,
            database=str(self.paths.database),
            log_path=str(self.paths.log),
            problems=tuple(self._problems),
            explained=explained,
        )

    async def _explain(self, redis: aioredis.Redis, ex_ids: Iterable[int]) -> list[AccountExplanation]:
        """Balance explained over every account, once the books settled."""
        try:
            return await explain_accounts(
                self.settings.database_url,
                redis,
                prefix=self.settings.stream_prefix,
                band_ms=self.settings.explain_band_ms,
                partitions=self.settings.stream_partitions,
                ex_ids=list(ex_ids),
            )
        except AccountServiceError as e:
            self._problems.append(f"balance explained could not be read: {e}")
            return []

    def _wrap(self, group: str) -> Callable[[Handler], Handler]:
        metrics = sink_metrics(self.sensor, group) if self.sensor is not NULL_SENSOR else None

        def wrap(handler: Handler) -> Handler:
            return self.counter.wrap(metrics(handler) if metrics else handler)

        return wrap

    def _take_over_signals(self) -> None:
        """Ctrl-C is the demo's while it runs (the producer, told ``handle_signals=False``, leaves
        it alone: it would just stop)."""
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._interrupted)

    def _release_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)

    def _interrupted(self) -> None:
        """First Ctrl-C: stop trading and settle. Another, a moment later: stop settling.

        A launcher such as ``uv run`` forwards the terminal's SIGINT, so one keypress can arrive
        twice; a repeat within ``SIGNAL_REPEAT_S`` is that echo, not a second press."""
        now = asyncio.get_running_loop().time()
        if self._interrupted_at is None:
            self._interrupted_at = now
            self._end_run.set()
        elif now - self._interrupted_at > SIGNAL_REPEAT_S:
            self._abort_settle.set()

    async def _scenario(self, sim: Simulator, settler: Settler) -> Settled:
        self.phase = "running"
        sim.start_engine()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.options.duration_s):
                await self._end_run.wait()
        self.phase = "settling"
        await sim.stop_engine()
        _log.info("scenario stopped; settling", steps=sim.engine.steps)
        return await settler.settle(self.options.settle_timeout_s, abort=self._abort_settle)

    async def _refresh(self, reader: StateReader) -> None:
        while True:
            try:
                self.screen.show(await reader.read(self.phase))
            except AccountServiceError as e:
                _log.warning("dashboard read failed", error=str(e))
            await asyncio.sleep(self.options.refresh_s)

    async def _shutdown(
        self, daemon: AccountDaemon, producer: asyncio.Task[None], sinks: list[asyncio.Task[None]]
    ) -> None:
        """Producer first (its outbox drains), then the sinks finish their batch and ack."""
        for name, stop, tasks in (
            ("producer", daemon.stop, [producer]),
            ("sinks", self._stop_sinks_now, sinks),
        ):
            try:
                async with asyncio.timeout(SHUTDOWN_TIMEOUT_S):
                    await stop()
                    await asyncio.gather(*tasks, return_exceptions=True)
            except TimeoutError:
                self._problems.append(f"{name} did not stop within {SHUTDOWN_TIMEOUT_S:g}s")
                for task in tasks:
                    await self.tasks.cancel(task)
            for task in tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    self._problems.append(f"{task.get_name()} failed: {task.exception()!r}")

    async def _stop_sinks_now(self) -> None:
        self._stop_sinks.set()
