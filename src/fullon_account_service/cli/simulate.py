"""``fullon-account simulate``: run the exchange simulator on 127.0.0.1 for offline testing.

Prints, per simulated account, the ccxt exchange id and the constructor config to use (URL
overrides and credentials). Those credentials exist only inside the simulator, which is why
printing them here is intended. ``--register`` also adds the accounts to the configured database
and writes their credentials to a 0600 secrets file and the URLs to an overrides file, so a
producer started with the two variables printed talks to this simulator. Runs until Ctrl-C or
``--duration``, then writes the ground truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fullon_account_service.cli import event_loop
from fullon_account_service.settings import Settings

if TYPE_CHECKING:
    from fullon_account_service.simulator.scenario import ScenarioConfig
    from fullon_account_service.simulator.server import Simulator

VENUES = ("kraken", "bybit", "hyperliquid")
"""As ``simulator.scenario.VENUES``, repeated so that ``simulate --help`` imports no simulator."""


def _announce(sim: Simulator) -> None:
    typer.echo(
        f"control endpoint: {sim.control_url}  (GET/POST /faults, GET /truth, GET /stats,"
        " POST /step?n=K, POST /scenario/stop)"
    )
    for name, reason in sim.unavailable.items():
        typer.echo(f"venue {name} unavailable: {reason}", err=True)
    for account in sim.world.accounts:
        if account.venue not in sim.venues:
            continue
        config = sim.client_config(account)
        typer.echo(f"\n[{account.venue} #{account.index}] ccxt id: {account.venue}")
        typer.echo(json.dumps(config, indent=2, sort_keys=True))


def _write_overrides(sim: Simulator, path: Path) -> None:
    """Per-venue ccxt config without credentials: what a separately started producer needs in
    ``ACCOUNT_EXCHANGE_OVERRIDES`` to talk to this simulator."""
    from fullon_account_service.producers.clients import OVERRIDES_ENV, strip_credentials

    overrides = {
        account.venue: strip_credentials(sim.client_config(account))
        for account in sim.world.accounts
        if account.venue in sim.venues
    }
    path.write_text(json.dumps(overrides, indent=2, sort_keys=True))
    typer.echo(f"\nccxt overrides written to {path}: export {OVERRIDES_ENV}={path}", err=True)


async def _register(sim: Simulator, settings: Settings, secrets: Path, overrides: Path) -> None:
    from fullon_account_service.cli.accounts import with_schema
    from fullon_account_service.cli.simulate_register import SIM_USER, register_simulated, write_secrets
    from fullon_account_service.errors import AccountServiceError
    from fullon_account_service.redaction import redact_text
    from fullon_account_service.storage.db.plain_reads import without_password

    try:
        registered = await with_schema(settings, lambda: register_simulated(sim, settings.database_url))
        write_secrets(secrets, sim, registered)
    except (AccountServiceError, OSError) as e:
        typer.echo(f"--register failed: {redact_text(str(e))}", err=True)
        raise typer.Exit(1) from None
    where = without_password(settings.database_url)
    new = sum(r.created for r in registered)
    typer.echo(f"\nregistered {len(registered)} simulated accounts of {SIM_USER} ({new} new) in {where}:")
    for r in registered:
        typer.echo(f"  ex_id {r.ex_id}: {r.venue} {r.name}")
    typer.echo(f"credentials written to {secrets} (mode 0600)")
    typer.echo(f"ccxt overrides written to {overrides}")
    typer.echo(f"to watch them: export ACCOUNT_SECRETS_FILE={secrets} ACCOUNT_EXCHANGE_OVERRIDES={overrides}")


async def _run(
    config: ScenarioConfig,
    faults: dict[str, Any],
    truth: Path | None,
    overrides: Path | None,
    duration_s: float | None,
    register: tuple[Settings, Path] | None,
    access_log: bool,
) -> None:
    from fullon_account_service.gc_freeze import freeze_permanent
    from fullon_account_service.simulator.control import apply_fault_changes
    from fullon_account_service.simulator.server import Simulator
    from fullon_account_service.simulator.truth import write_truth

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with Simulator(config, access_log=access_log) as sim:
        try:
            apply_fault_changes(sim.world, faults)
        except ValueError as e:
            raise typer.BadParameter(str(e), param_hint="--faults") from e
        _announce(sim)
        if overrides is not None:
            _write_overrides(sim, overrides)
        if register is not None and overrides is not None:
            await _register(sim, *register, overrides)
        freeze_permanent("simulator")
        sim.start_engine()
        typer.echo(f"\nrunning at {config.rate_per_s:g} events/s; Ctrl-C to stop", err=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=duration_s)
        await sim.stop_engine()
        if truth is not None:
            write_truth(sim.world, truth, sim.recorder)
            typer.echo(f"ground truth written to {truth} ({sim.engine.steps} steps)", err=True)


def simulate(
    venues: Annotated[str, typer.Option(help="Comma-separated venues to serve.")] = ",".join(VENUES),
    accounts: Annotated[int, typer.Option(help="Accounts per venue.")] = 5,
    seed: Annotated[int, typer.Option(help="Scenario seed: same seed, same history.")] = 7,
    rate: Annotated[float, typer.Option(help="Scenario events per second (0.0167 = one a minute).")] = 20.0,
    funding_every_s: Annotated[
        float, typer.Option(help="Seconds of scenario time between funding payments on open perp positions.")
    ] = 60.0,
    funding_rate: Annotated[
        float, typer.Option(help="Funding rate per interval (share of position value; longs pay when > 0).")
    ] = 0.0001,
    truth: Annotated[Path | None, typer.Option(help="Write the ground truth JSON here on exit.")] = None,
    faults: Annotated[
        str,
        typer.Option(
            help='Faults from the start, as JSON: \'{"ws_drop_every_s": 5, "rate_limit_probability": 0.2}\'.'
        ),
    ] = "{}",
    overrides: Annotated[
        Path | None, typer.Option(help="Write the per-venue ccxt URL overrides (no credentials) here.")
    ] = None,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    register: Annotated[
        bool,
        typer.Option(
            "--register",
            help="Add the accounts to the database and write their credentials to a 0600 secrets file.",
        ),
    ] = False,
    secrets: Annotated[
        Path | None,
        typer.Option(help="With --register: the secrets file (default <data dir>/simulator-secrets.json)."),
    ] = None,
    access_log: Annotated[
        bool, typer.Option("--access-log", help="Log every HTTP request the simulator serves.")
    ] = False,
) -> None:
    """Serve simulated Kraken, Bybit and Hyperliquid accounts on 127.0.0.1."""
    from fullon_account_service.simulator.scenario import ScenarioConfig

    try:
        config = ScenarioConfig(
            venues=tuple(v.strip() for v in venues.split(",") if v.strip()),
            accounts_per_venue=accounts,
            seed=seed,
            rate_per_s=rate,
            funding_every_s=funding_every_s,
            funding_rate=funding_rate,
        )
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e
    try:
        initial_faults = json.loads(faults)
    except ValueError as e:
        raise typer.BadParameter(f"not JSON: {e}", param_hint="--faults") from e
    if not isinstance(initial_faults, dict):
        raise typer.BadParameter("expected a JSON object", param_hint="--faults")
    registration: tuple[Settings, Path] | None = None
    if register:
        settings = Settings.from_env()
        data_dir = Path(settings.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        registration = (settings, (secrets or data_dir / "simulator-secrets.json").resolve())
        overrides = overrides or data_dir / "simulator-overrides.json"
    event_loop.run(
        _run(
            config,
            initial_faults,
            truth and truth.resolve(),
            overrides and overrides.resolve(),
            duration,
            registration,
            access_log,
        )
    )
