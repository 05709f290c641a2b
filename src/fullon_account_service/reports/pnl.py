"""Realised PnL per symbol and over time, from the trades table the ORM sink maintains.

The sink already stored each trade's realised result (``roi``, net of the fees of the closed part)
and fees (``total_fee``); this module only sums them, so the report and the stored books can never
disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol


class TradeRow(Protocol):
    symbol: str
    time: datetime
    roi: float | None
    total_fee: float | None
    volume: float


@dataclass(slots=True)
class SymbolPnl:
    symbol: str
    trades: int = 0
    volume: float = 0.0
    realised: float = 0.0
    fees: float = 0.0


@dataclass(slots=True)
class PnlReport:
    symbols: dict[str, SymbolPnl] = field(default_factory=dict)
    curve: list[tuple[datetime, float]] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(s.realised for s in self.symbols.values())


def build_report(trades: Iterable[TradeRow]) -> PnlReport:
    report = PnlReport()
    running = 0.0
    for t in sorted(trades, key=lambda t: t.time):
        row = report.symbols.setdefault(t.symbol, SymbolPnl(t.symbol))
        row.trades += 1
        row.volume += t.volume
        row.realised += t.roi or 0.0
        row.fees += t.total_fee or 0.0
        running += t.roi or 0.0
        report.curve.append((t.time, running))
    return report


def plot_report(report: PnlReport, path: Path, title: str) -> None:
    """Cumulative realised PnL over time, one PNG; the Agg backend needs no display."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    try:
        if report.curve:
            times, values = zip(*report.curve, strict=True)
            ax.step(times, values, where="post")
        ax.axhline(0.0, linewidth=0.8, color="grey")
        ax.set_title(title)
        ax.set_ylabel("realised PnL")
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
