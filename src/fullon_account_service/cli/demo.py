"""``fullon-account demo``: the simulator, a producer and both sinks in one process, on screen.

Needs no service: it always uses a fresh SQLite file in the data directory and in-process Redis,
whatever ``DATABASE_URL`` and ``REDIS_URL`` say. ``--duration S`` stops the scenario after S
seconds and exits 0 only if the stored books equal the simulator's ground truth; without it the
demo runs until Ctrl-C and reports the same way.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from fullon_account_service.errors import ConfigError
from fullon_account_service.settings import Settings


def demo(
    duration: Annotated[
        float | None,
        typer.Option(min=1.0, help="Trade this many seconds, then verify and exit."),
    ] = None,
    accounts: Annotated[int, typer.Option(min=1, max=50, help="Simulated accounts per venue.")] = 2,
    seed: Annotated[int, typer.Option(help="Scenario seed: same seed, same accounts and trading.")] = 7,
    rate: Annotated[float, typer.Option(min=0.1, help="Scenario actions per second.")] = 10.0,
    poll_interval: Annotated[
        float, typer.Option(min=0.5, help="Seconds between REST polls of an account.")
    ] = 3.0,
) -> None:
    """Run the whole service against simulated Kraken, Bybit and Hyperliquid accounts, live."""
    try:
        settings = Settings.from_env()
    except ConfigError as e:
        typer.echo(f"configuration error: {e}", err=True)
        raise typer.Exit(2) from None
    from rich.console import Console

    from fullon_account_service.demo.screen import Screen
    from fullon_account_service.demo.snapshot import Snapshot

    console = Console()
    with Screen(console) as screen:
        # Drawn before the imports below, which take seconds (ccxt above all).
        screen.show(Snapshot(elapsed_s=0.0, phase="starting", duration_s=duration), force=True)
        from fullon_account_service.demo.report import summary_lines
        from fullon_account_service.demo.run import run_demo
        from fullon_account_service.demo.wiring import DemoOptions

        options = DemoOptions(
            accounts_per_venue=accounts,
            seed=seed,
            rate_per_s=rate,
            duration_s=duration,
            poll_interval_s=poll_interval,
        )
        result = asyncio.run(run_demo(options, settings, screen))
    for line in summary_lines(result):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(0 if result.ok else 1)
