"""Realised PnL per symbol and over time, from the trades and ledger tables the ORM sink maintains.

The sink already stored each trade's realised result (``roi``, net of the fees of the closed part)
and fees (``total_fee``), both in the symbol's quote currency; this module only sums them, so the
report and the stored books can never disagree. Beside that trading PnL stand the symbol's funding
and liquidation charges from the ledger (``SymbolCharge``), in the currency the venue booked them
in, and the net: trading PnL + funding + liquidation. Amounts in different currencies are never
added: a row is one (symbol, currency), so a charge in another currency than the quote (an inverse
perp's funding in BTC) gets a row of its own; totals are per currency, and the plot draws one axis
per currency with one line per symbol.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from fullon_account_service.contract.events import LedgerReason
from fullon_account_service.ledger.entries import SymbolCharge

UNKNOWN_CURRENCY = "?"
"""The currency of a symbol written without ``BASE/QUOTE``: shown apart, never added to another."""
NO_SYMBOL = "(no symbol)"
"""Where a funding or liquidation entry the venue gave without a market is booked."""


class TradeRow(Protocol):
    @property
    def symbol(self) -> str: ...
    @property
    def time(self) -> datetime: ...
    @property
    def roi(self) -> float | None: ...
    @property
    def total_fee(self) -> float | None: ...
    @property
    def volume(self) -> float: ...


def quote_currency(symbol: str) -> str:
    """``"BTC/USD"`` -> ``USD``; ``"BTC/USDT:USDT"`` -> ``USDT`` (the sink's PnL unit is the quote)."""
    _, slash, rest = symbol.partition("/")
    quote = rest.split(":")[0]
    return quote if slash and quote else UNKNOWN_CURRENCY


@dataclass(slots=True)
class SymbolPnl:
    symbol: str
    currency: str
    trades: int = 0
    volume: float = 0.0
    realised: float = 0.0
    """Trading PnL: the sum of the trades' ``roi``, net of their fees."""
    fees: float = 0.0
    """The trading fees inside ``realised`` (not to be taken off again)."""
    funding: float = 0.0
    liquidation: float = 0.0
    """Liquidation charges booked to the symbol by the ledger (the liquidation fills' own PnL
    is in ``realised``)."""
    curve: list[tuple[datetime, float]] = field(default_factory=list)
    """Cumulative realised trading PnL of this symbol after each of its trades."""

    @property
    def net(self) -> float:
        return self.realised + self.funding + self.liquidation


@dataclass(slots=True)
class PnlReport:
    symbols: dict[tuple[str, str], SymbolPnl] = field(default_factory=dict)
    """Keyed by (symbol, currency)."""

    def currencies(self) -> list[str]:
        return sorted({s.currency for s in self.symbols.values()})

    def in_currency(self, currency: str) -> list[SymbolPnl]:
        return sorted((s for s in self.symbols.values() if s.currency == currency), key=lambda s: s.symbol)

    def row(self, symbol: str, currency: str) -> SymbolPnl:
        return self.symbols.setdefault((symbol, currency), SymbolPnl(symbol, currency))

    def total(self, currency: str) -> SymbolPnl:
        """The sums of every row in ``currency`` (named ``total <currency>``, without a curve)."""
        total = SymbolPnl(f"total {currency}", currency)
        for row in self.in_currency(currency):
            total.trades += row.trades
            total.volume += row.volume
            total.realised += row.realised
            total.fees += row.fees
            total.funding += row.funding
            total.liquidation += row.liquidation
        return total

    @property
    def totals(self) -> dict[str, float]:
        """Realised trading PnL per currency."""
        return {c: self.total(c).realised for c in self.currencies()}


def build_report(trades: Iterable[TradeRow], charges: Iterable[SymbolCharge] = ()) -> PnlReport:
    report = PnlReport()
    for t in sorted(trades, key=lambda t: t.time):
        row = report.row(t.symbol, quote_currency(t.symbol))
        row.trades += 1
        row.volume += t.volume
        row.realised += t.roi or 0.0
        row.fees += t.total_fee or 0.0
        row.curve.append((t.time, row.realised))
    for charge in charges:
        row = report.row(charge.symbol or NO_SYMBOL, charge.currency)
        if charge.reason == LedgerReason.FUNDING:
            row.funding += charge.amount
        else:
            row.liquidation += charge.amount
    return report


def plot_report(report: PnlReport, path: Path, title: str) -> None:
    """Cumulative realised PnL over time, one PNG: one axis per currency, one line per symbol.

    The Agg backend needs no display; matplotlib is imported here, only when a plot is asked for.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    currencies = report.currencies() or [UNKNOWN_CURRENCY]
    fig, axes = plt.subplots(
        len(currencies), 1, figsize=(9, 3.5 * len(currencies)), sharex=True, squeeze=False
    )
    try:
        for ax, currency in zip(axes[:, 0], currencies, strict=True):
            traded = [row for row in report.in_currency(currency) if row.curve]
            for row in traded:
                times, values = zip(*row.curve, strict=True)
                ax.step(times, values, where="post", label=row.symbol)
            ax.axhline(0.0, linewidth=0.8, color="grey")
            ax.set_ylabel(f"realised PnL ({currency})")
            if traded:
                ax.legend(loc="best", fontsize="small")
        axes[0, 0].set_title(title)
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
