"""Realised PnL per symbol and over time, from the trades table the ORM sink maintains.

The sink already stored each trade's realised result (``roi``, net of the fees of the closed part)
and fees (``total_fee``), both in the symbol's quote currency; this module only sums them, so the
report and the stored books can never disagree. Amounts in different currencies are never added:
totals are per quote currency, and the plot draws one axis per currency with one line per symbol.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

UNKNOWN_CURRENCY = "?"
"""The currency of a symbol written without ``BASE/QUOTE``: shown apart, never added to another."""


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
    fees: float = 0.0
    curve: list[tuple[datetime, float]] = field(default_factory=list)
    """Cumulative realised PnL of this symbol after each of its trades."""


@dataclass(slots=True)
class PnlReport:
    symbols: dict[str, SymbolPnl] = field(default_factory=dict)

    def currencies(self) -> list[str]:
        return sorted({s.currency for s in self.symbols.values()})

    def in_currency(self, currency: str) -> list[SymbolPnl]:
        return sorted((s for s in self.symbols.values() if s.currency == currency), key=lambda s: s.symbol)

    @property
    def totals(self) -> dict[str, float]:
        """Realised PnL per quote currency."""
        return {c: sum(s.realised for s in self.in_currency(c)) for c in self.currencies()}

    @property
    def fee_totals(self) -> dict[str, float]:
        return {c: sum(s.fees for s in self.in_currency(c)) for c in self.currencies()}


def build_report(trades: Iterable[TradeRow]) -> PnlReport:
    report = PnlReport()
    for t in sorted(trades, key=lambda t: t.time):
        row = report.symbols.setdefault(t.symbol, SymbolPnl(t.symbol, quote_currency(t.symbol)))
        row.trades += 1
        row.volume += t.volume
        row.realised += t.roi or 0.0
        row.fees += t.total_fee or 0.0
        row.curve.append((t.time, row.realised))
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
            for row in report.in_currency(currency):
                times, values = zip(*row.curve, strict=True)
                ax.step(times, values, where="post", label=row.symbol)
            ax.axhline(0.0, linewidth=0.8, color="grey")
            ax.set_ylabel(f"realised PnL ({currency})")
            if report.in_currency(currency):
                ax.legend(loc="best", fontsize="small")
        axes[0, 0].set_title(title)
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
