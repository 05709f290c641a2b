"""``fullon-account pnl --ex-id N``: realised PnL per symbol, totalled per quote currency.

Each symbol's PnL is in its quote currency, so totals are given per currency and never summed
across them. An ex_id that is neither a registered account nor has stored trades is a mistake
(exit 2); trades of a removed account are still shown.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fullon_account_service.settings import Settings

if TYPE_CHECKING:
    from fullon_account_service.reports.pnl import PnlReport


async def _load(settings: Settings, ex_id: int) -> tuple[bool, PnlReport]:
    """(whether the ex_id is a registered account, the report of its stored trades)."""
    from sqlalchemy import select

    from fullon_account_service.reports.pnl import build_report
    from fullon_account_service.storage.db.engine import make_engine, make_session_factory
    from fullon_account_service.storage.db.errors import translating
    from fullon_account_service.storage.db.models import Exchange, Trade

    engine = make_engine(settings.database_url)
    try:
        async with translating("read trades"), make_session_factory(engine)() as session:
            known = await session.scalar(select(Exchange.ex_id).where(Exchange.ex_id == ex_id)) is not None
            trades = (await session.scalars(select(Trade).where(Trade.ex_id == ex_id))).all()
            return known, build_report(trades)
    finally:
        await engine.dispose()


def _print(report: PnlReport, ex_id: int) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("symbol", "currency", "trades", "volume", "fees", "realised PnL", title=f"ex_id {ex_id}")
    for currency in report.currencies():
        for row in report.in_currency(currency):
            table.add_row(
                row.symbol,
                currency,
                str(row.trades),
                f"{row.volume:.8g}",
                f"{row.fees:.8g}",
                f"{row.realised:.8f}",
            )
    fees = report.fee_totals
    for currency, total in report.totals.items():
        table.add_row(f"total {currency}", currency, "", "", f"{fees[currency]:.8g}", f"{total:.8f}")
    Console().print(table)


def pnl(
    ex_id: Annotated[int, typer.Option("--ex-id", help="Exchange account id.")],
    plot: Annotated[
        Path | None, typer.Option(help="Write cumulative realised PnL per symbol as a PNG here.")
    ] = None,
) -> None:
    """Realised PnL per symbol (FIFO, net of fees) from the stored trades, totalled per currency."""
    from fullon_account_service.errors import AccountServiceError
    from fullon_account_service.redaction import redact_text

    try:
        known, report = asyncio.run(_load(Settings.from_env(), ex_id))
    except AccountServiceError as e:
        typer.echo(f"error: {redact_text(str(e))}", err=True)
        raise typer.Exit(1) from None
    if not known and not report.symbols:
        typer.echo(f"no account with ex_id {ex_id} and no trades stored for it", err=True)
        raise typer.Exit(2)
    if not report.symbols:
        typer.echo(f"ex_id {ex_id}: no trades stored yet")
        return
    _print(report, ex_id)
    if plot is not None:
        from fullon_account_service.reports.pnl import plot_report

        plot_report(report, plot, f"realised PnL, ex_id {ex_id}")
        typer.echo(f"plot written to {plot.resolve()}")
