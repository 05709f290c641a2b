"""What a venue would show for the ground truth: the books the service can know, in its terms.

Balances are wallet balances (realised only), as the ledger keeps them: the producers publish
every venue's balances with that meaning (Bybit's ``walletBalance``, Hyperliquid's account value
less unrealised PnL; see ``producers.venues.hyperliquid.normalise``). Free and used follow the truth too;
where a channel does not carry them the service stores them unknown, which ``compare`` accepts.

Order statuses are what the venue can say: Kraken has no "rejected" and reports such an order
as canceled. Fees too: Kraken's trade history gives every fee in the quote currency (a fee
charged in base shows as its quote value at the fill price) while its private stream gives the
currency charged, so either form of such a fill is right.

Positions are compared on side, size and entry price. Mark price and unrealised PnL are left
out: they are quotes, not books, and move with every tick whether or not the venue pushes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

VENUE_STATUS: dict[tuple[str, str], str] = {("kraken", "rejected"): "canceled"}
"""(venue, truth status) -> the status that venue reports for it."""

QUOTE_FEE_VENUES = frozenset({"kraken"})
"""Venues that may report a fee charged in base as its quote value."""


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


def expected_status(venue: str, status: str) -> str:
    return VENUE_STATUS.get((venue, status), status)


def fee_options(venue: str, fill: Mapping[str, Any]) -> list[tuple[float, str]]:
    """Each (fee, currency) the venue may report for ``fill``."""
    options = [(float(fill["fee"]), str(fill["fee_currency"]))]
    base, _, rest = str(fill["symbol"]).partition("/")
    quote = rest.split(":")[0]
    if venue in QUOTE_FEE_VENUES and fill["fee_currency"] == base and quote:
        options.append((float(fill["fee"]) * float(fill["price"]), quote))
    return options


def expected_balances(account: Mapping[str, Any]) -> dict[str, BalanceView]:
    return {
        currency: BalanceView(float(b["total"]), float(b["free"]), float(b["used"]))
        for currency, b in account["balances"].items()
    }


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
