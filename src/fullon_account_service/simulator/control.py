"""The simulator's control endpoint (loopback only): faults, ground truth, stepping, accounts.

- ``GET /faults`` -> the current ``Faults`` as JSON.
- ``POST /faults`` with a JSON object of ``Faults`` fields to change (others keep their value);
  ``refuse_connections_for_s`` is accepted as a shortcut that sets ``refuse_connections_until_ms``
  relative to the world clock. Unknown fields or wrong types -> 400.
- ``GET /truth`` -> ``ground_truth(world, recorder)`` (with balance and position history).
- ``POST /step?n=K`` -> run K scenario steps now (1..100000); answers the total step count.
- ``POST /scenario/stop`` -> stop the paced scenario and wait for its last step; the venues keep
  serving, so a run can let the service catch up and then compare with a truth that no longer
  moves. Answers the total step count.
- ``GET /stats`` -> ``{"faults_injected": {"total": {kind: n}, "by_venue": {...}},
  "subscriptions": [{venue, index, channels: {name: {since_ms, active, subscribes}}}]}``: the
  faults actually injected so far (``simulator.stats``) and each account's private subscriptions
  (``subscribes`` > 1 means the channel was subscribed again, e.g. after a reconnect).
- ``GET /accounts`` -> per account: venue, index, ccxt id and the ccxt config to use. These are
  simulator test credentials, served on 127.0.0.1 so another local process can connect.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, get_type_hints

from aiohttp import web

from fullon_account_service.simulator.history import TruthRecorder
from fullon_account_service.simulator.model import Faults, SimAccount, World
from fullon_account_service.simulator.scenario import ScenarioEngine
from fullon_account_service.simulator.truth import ground_truth, simulator_stats

ClientConfig = Callable[[SimAccount], dict[str, Any] | None]
StopScenario = Callable[[], Awaitable[None]]

_MAX_STEPS = 100_000
_FAULT_TYPES: dict[str, Any] = get_type_hints(Faults)


def _coerce(name: str, value: Any) -> Any:
    """Accept JSON numbers for the field's declared type; reject anything else."""
    declared = _FAULT_TYPES[name]
    if value is None and declared == (float | None):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    return int(value) if declared is int else float(value)


def apply_fault_changes(world: World, changes: dict[str, Any]) -> Faults:
    """Validate every change first, then apply all of them (no half-applied update)."""
    fields = {f.name for f in dataclasses.fields(Faults)}
    updates: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "refuse_connections_for_s":
            seconds = _coerce("rate_limit_retry_after_s", value)
            updates["refuse_connections_until_ms"] = world.now_ms() + int(seconds * 1000)
        elif name in fields:
            updates[name] = _coerce(name, value)
        else:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(sorted(fields))}")
    for name, value in updates.items():
        setattr(world.faults, name, value)
    return world.faults


def build_control_app(
    world: World,
    engine: ScenarioEngine,
    client_config: ClientConfig,
    recorder: TruthRecorder | None = None,
    stop_scenario: StopScenario | None = None,
) -> web.Application:
    async def get_faults(_: web.Request) -> web.Response:
        return web.json_response(dataclasses.asdict(world.faults))

    async def post_faults(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            faults = apply_fault_changes(world, body)
        except ValueError as e:
            return web.json_response({"error": str(e)}, status=400)
        return web.json_response(dataclasses.asdict(faults))

    async def get_truth(_: web.Request) -> web.Response:
        return web.json_response(ground_truth(world, recorder))

    async def post_step(request: web.Request) -> web.Response:
        try:
            n = int(request.query.get("n", "1"))
        except ValueError:
            n = 0
        if not 1 <= n <= _MAX_STEPS:
            return web.json_response({"error": f"n must be 1..{_MAX_STEPS}"}, status=400)
        engine.run_steps(n)
        return web.json_response({"steps": engine.steps})

    async def post_scenario_stop(_: web.Request) -> web.Response:
        if stop_scenario is None:
            return web.json_response({"error": "this simulator has no paced scenario"}, status=404)
        await stop_scenario()
        return web.json_response({"steps": engine.steps})

    async def get_stats(_: web.Request) -> web.Response:
        return web.json_response(simulator_stats(world))

    async def get_accounts(_: web.Request) -> web.Response:
        rows = [
            {"venue": a.venue, "index": a.index, "exchange": a.venue, "config": client_config(a)}
            for a in world.accounts
        ]
        return web.json_response(rows)

    app = web.Application()
    app.router.add_get("/faults", get_faults)
    app.router.add_post("/faults", post_faults)
    app.router.add_get("/truth", get_truth)
    app.router.add_post("/step", post_step)
    app.router.add_get("/accounts", get_accounts)
    app.router.add_get("/stats", get_stats)
    app.router.add_post("/scenario/stop", post_scenario_stop)
    return app
