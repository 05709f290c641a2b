"""Runs the simulator: one aiohttp server per venue plus the control endpoint, all on 127.0.0.1.

Venues are imported lazily by name (``simulator.venues.<name>.VENUE``): a venue that is missing or
fails to build is logged and skipped (``unavailable`` says why) so the others still start.

    async with Simulator(ScenarioConfig(seed=7)) as sim:
        exchange = ccxt.pro.kraken(sim.client_config(sim.world.accounts_of("kraken")[0]))
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from aiohttp import web

from fullon_account_service.logs import get_logger
from fullon_account_service.simulator.control import build_control_app
from fullon_account_service.simulator.history import TruthRecorder
from fullon_account_service.simulator.ledger import Ledger
from fullon_account_service.simulator.model import Faults, SimAccount, World
from fullon_account_service.simulator.scenario import ScenarioConfig, ScenarioEngine, build_world
from fullon_account_service.simulator.truth import ground_truth, simulator_stats
from fullon_account_service.simulator.venue import VenueSpec
from fullon_account_service.supervisor import TaskSupervisor

_log = get_logger("simulator.server")
HOST = "127.0.0.1"


def load_venue(name: str) -> VenueSpec:
    module = importlib.import_module(f"fullon_account_service.simulator.venues.{name}")
    venue: VenueSpec = module.VENUE
    return venue


async def serve(app: web.Application, *, access_log: bool = False) -> tuple[web.AppRunner, int]:
    """Start ``app`` on 127.0.0.1 at a free port; the caller owns ``runner.cleanup()``.

    One line per HTTP request (aiohttp's access log, logger ``aiohttp.access``) only when asked:
    a polling producer makes many, and they bury everything else."""
    runner = web.AppRunner(
        app, shutdown_timeout=1.0, access_log=logging.getLogger("aiohttp.access") if access_log else None
    )
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    port = int(runner.addresses[0][1])
    return runner, port


class Simulator:
    def __init__(
        self,
        config: ScenarioConfig,
        faults: Faults | None = None,
        venues: Sequence[str] | None = None,
        *,
        now_ms: Callable[[], int] | None = None,
        access_log: bool = False,
    ) -> None:
        self.config = config
        self._access_log = access_log
        self.world: World = build_world(config, now_ms=now_ms, faults=faults)
        self.ledger = Ledger(self.world)
        self.engine = ScenarioEngine(self.world, self.ledger, config)
        self.recorder = TruthRecorder(self.ledger)
        self.recorder.attach(self.world)
        self._wanted = tuple(venues) if venues is not None else config.venues
        self.venues: dict[str, VenueSpec] = {}
        self.unavailable: dict[str, str] = {}
        self._ports: dict[str, int] = {}
        self._runners: list[web.AppRunner] = []
        self.control_url = ""
        self._stop = asyncio.Event()
        self._engine_tasks = TaskSupervisor("simulator")

    async def __aenter__(self) -> Simulator:
        try:
            for name in self._wanted:
                await self._start_venue(name)
            runner, port = await serve(
                build_control_app(
                    self.world, self.engine, self._config_or_none, self.recorder, self.stop_engine
                ),
                access_log=self._access_log,
            )
            self._runners.append(runner)
            self.control_url = f"http://{HOST}:{port}"
        except BaseException:
            await self._cleanup()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._cleanup()

    async def _start_venue(self, name: str) -> None:
        if name not in self.world.markets:
            self.unavailable[name] = "not part of the scenario's venues"
            return
        try:
            venue = load_venue(name)
            app = venue.build_app(self.world)
        except Exception as e:
            self.unavailable[name] = repr(e)
            _log.warning("simulated venue unavailable", venue=name, error=repr(e))
            return
        runner, port = await serve(app, access_log=self._access_log)
        self._runners.append(runner)
        self.venues[name] = venue
        self._ports[name] = port

    async def _cleanup(self) -> None:
        await self.stop_engine()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()

    def base_url(self, venue: str) -> str:
        if venue not in self._ports:
            raise KeyError(f"venue {venue} is not running: {self.unavailable.get(venue, 'not requested')}")
        return f"http://{HOST}:{self._ports[venue]}"

    def client_config(self, account: SimAccount) -> dict[str, Any]:
        """ccxt constructor config for ``account`` against its running venue."""
        return self.venues[account.venue].client_config(account, self.base_url(account.venue))

    def _config_or_none(self, account: SimAccount) -> dict[str, Any] | None:
        return self.client_config(account) if account.venue in self.venues else None

    def stats(self) -> dict[str, Any]:
        """Faults injected so far and private subscriptions (as ``GET /stats``); the live objects
        are ``world.fault_counts`` and ``world.subscriptions`` (``subscriptions.wait(...)``)."""
        return simulator_stats(self.world)

    def truth(self) -> dict[str, Any]:
        """Ground truth including balance and position history."""
        return ground_truth(self.world, self.recorder)

    def start_engine(self) -> None:
        """Run the scenario at ``config.rate_per_s`` in the background until ``stop_engine``."""
        if self._engine_tasks:
            return
        self._stop.clear()
        self._engine_tasks.spawn(self.engine.run(self._stop), name="simulator-scenario")

    async def stop_engine(self) -> None:
        self._stop.set()
        await self._engine_tasks.join()
