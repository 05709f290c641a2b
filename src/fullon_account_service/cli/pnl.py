"""``fullon-account pnl --ex-id N``: per symbol, trading PnL, fees, funding, liquidation charges
and the net, totalled per currency.

Each row is one (symbol, currency): trading PnL is in the symbol's quote currency, a ledger charge
in the currency the venue booked it in, and totals are given per currency, never summed across
them. An ex_id that is neither a registered account nor has stored trades or ledger entries is a
mistake (exit 2); those of a removed account are still shown.
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

    table = Table(
        "symbol",
        "currency",
        "trades",
        "volume",
        "trading PnL",
        "fees (in trading PnL)",
        "funding",
        "liquidation",
        "net PnL",
        title=f"ex_id {ex_id}",
    )
    for currency in report.currencies():
        for row in [*report.in_currency(currency), report.total(currency)]:
            table.add_row(
                row.symbol,
                currency,
                str(row.trades),
                f"{row.volume:.8g}",
                f"{row.realised:.8f}",
                f"{row.fees:.8g}",
                f"{row.funding:.8f}",
                f"{row.liquidation:.8f}",
                f"{row.net:.8f}",
            )
    Console().print(table)


def pnl(
    ex_id: Annotated[int, typer.Option("--ex-id", help="Exchange account id.")],
    plot: Annotated[
        Path | None, typer.Option(help="Write cumulative realised PnL per symbol as a PNG here.")
    ] = None,
) -> None:
    """Per symbol: trading PnL (FIFO, net of fees), funding, liquidation charges and the net,
    totalled per currency."""
    from fullon_account_service.errors import AccountServiceError
    from fullon_account_service.redaction import redact_text
    from fullon_account_service.reports.pnl import build_report
    from fullon_account_service.storage.db.plain_reads import pnl_inputs

    try:
        known, trades, charges = asyncio.run(pnl_inputs(Settings.from_env().database_url, ex_id))
    except AccountServiceError as e:
        typer.echo(f"error: {redact_text(str(e))}", err=True)
        raise typer.Exit(1) from None
    report = build_report(trades, charges)
    if not known and not report.symbols:
        typer.echo(f"no account with ex_id {ex_id} and no trades or ledger entries stored for it", err=True)
        raise typer.Exit(2)
    if not report.symbols:
        typer.echo(f"ex_id {ex_id}: no trades or ledger entries stored yet")
        return
    _print(report, ex_id)
    if plot is not None:
        from fullon_account_service.reports.pnl import plot_report

        plot_report(report, plot, f"realised PnL, ex_id {ex_id}")
        typer.echo(f"plot written to {plot.resolve()}")
