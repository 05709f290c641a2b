"""``fullon-account pnl --ex-id N``: realised PnL per symbol, and a plot over time on request."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from fullon_account_service.reports.pnl import PnlReport, build_report, plot_report
from fullon_account_service.settings import Settings
from fullon_account_service.storage.db.engine import make_engine, make_session_factory
from fullon_account_service.storage.db.models import Trade


async def _load(settings: Settings, ex_id: int) -> PnlReport:
    engine = make_engine(settings.database_url)
    try:
        async with make_session_factory(engine)() as session:
            trades = (await session.scalars(select(Trade).where(Trade.ex_id == ex_id))).all()
            return build_report(trades)
    finally:
        await engine.dispose()


def pnl(
    ex_id: Annotated[int, typer.Option("--ex-id", help="Exchange account id.")],
    plot: Annotated[Path | None, typer.Option(help="Write cumulative realised PnL as a PNG here.")] = None,
) -> None:
    """Realised PnL per symbol (FIFO, net of fees) from the stored trades."""
    report = asyncio.run(_load(Settings.from_env(), ex_id))
    table = Table("symbol", "trades", "volume", "fees", "realised PnL", title=f"ex_id {ex_id}")
    for row in sorted(report.symbols.values(), key=lambda r: r.symbol):
        table.add_row(
            row.symbol, str(row.trades), f"{row.volume:.8g}", f"{row.fees:.8g}", f"{row.realised:.8f}"
        )
    table.add_row("total", "", "", "", f"{report.total:.8f}")
    Console().print(table)
    if plot is not None:
        plot_report(report, plot, f"realised PnL, ex_id {ex_id}")
        typer.echo(f"plot written to {plot}")
