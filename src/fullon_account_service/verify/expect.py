"""What a venue would show for the ground truth: the balances and positions the service can know.

The simulator's ledger keeps wallet balances (realised only). Most venues report exactly that;
an equity venue reports the settle currency's total as wallet plus the open positions'
unrealised PnL, the way its account summary does (Hyperliquid's ``accountValue``; the producers
publish it unchanged, see ``producers.normalise.venues``). Free is then total minus used, and
unknown when used exceeds it.

Positions are compared on side, size and entry price. Mark price and unrealised PnL are left
out: they are quotes, not books, and move with every tick whether or not the venue pushes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

EQUITY_VENUES: dict[str, str] = {"hyperliquid": "USDC"}
"""Venue -> the currency whose reported total includes unrealised PnL."""


@dataclass(frozen=True, slots=True)
class BalanceView:
    total: float | None
    free: float | None
    used: float | None


@dataclass(frozen=True, slots=True)
class PositionView:
    side: str
    volume: float
    entry_price: float | None


def account_label(account: Mapping[str, Any]) -> str:
    return f"{account['venue']}#{account['index']}"


def expected_balances(account: Mapping[str, Any]) -> dict[str, BalanceView]:
    balances: dict[str, BalanceView] = {
        currency: BalanceView(float(b["total"]), float(b["free"]), float(b["used"]))
        for currency, b in account["balances"].items()
    }
    equity_currency = EQUITY_VENUES.get(account["venue"])
    wallet = balances.get(equity_currency) if equity_currency else None
    if equity_currency is not None and wallet is not None and wallet.total is not None:
        unrealised = sum(float(p["unrealized_pnl"]) for p in account["positions"] if p["contracts"])
        total = wallet.total + unrealised
        used = wallet.used or 0.0
        balances[equity_currency] = BalanceView(total, total - used if total >= used else None, used)
    return balances


def expected_positions(account: Mapping[str, Any]) -> dict[str, PositionView]:
    return {
        p["symbol"]: PositionView(
            side="long" if p["contracts"] > 0 else "short",
            volume=abs(float(p["contracts"])),
            entry_price=float(p["entry_price"]),
        )
        for p in account["positions"]
        if p["contracts"]
    }
