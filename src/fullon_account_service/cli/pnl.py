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
    from fullon_account_service.reports.pnl import build_report
    from fullon_account_service.storage.db.plain_reads import trades_of

    try:
        known, trades = asyncio.run(trades_of(Settings.from_env().database_url, ex_id))
    except AccountServiceError as e:
        typer.echo(f"error: {redact_text(str(e))}", err=True)
        raise typer.Exit(1) from None
    report = build_report(trades)
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
