"""Realised PnL and positions of the stored books against the truth, without the sink's engine.

The ORM sink writes each trade's realised PnL (``roi``) and the position after it
(``cur_volume``) with its FIFO engine. Checking them with that engine would only prove it agrees
with itself, so this module recomputes what any correct cost method must give, from the truth's
fills alone:

- the final position per symbol: the truth's open position (perpetuals) or the net quantity the
  fills moved (spot), against the ``cur_volume`` of the newest stored trade;
- the realised PnL of every flat-to-flat round trip (the position starts and ends at zero): FIFO,
  LIFO and average cost all realise exactly the cash that went in and out, so the sum of the
  stored ``roi`` over the trip's fills must equal it.

Fees follow the stored books' conventions (``ledger.fifo`` docstring): a fee in quote is paid in
cash, a fee in base changes the quantity (a buy receives ``amount - fee``, a sell gives up
``amount + fee``), a fee in any other currency is outside the PnL. Where a venue may report a
base fee as its quote value (``expect.fee_options``), the form the service stored is the one
applied, since both are right. A stored ``None`` where the truth gives a number is a difference.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

REL_TOL = 1e-9


@dataclass(frozen=True, slots=True)
class TradeResult:
    """What the sink computed for one stored trade."""

    ex_trade_id: str
    ex_order_id: str
    time_ms: int
    roi: float | None
    cur_volume: float | None


@dataclass(slots=True)
class RoundTrip:
    fill_ids: list[str] = field(default_factory=list)
    cash: float = 0.0
    """Quote received minus quote paid, fees included: the trip's realised PnL."""
    gross: float = 0.0
    """Quote notional traded, the scale for the tolerance."""


def split_symbol(symbol: str) -> tuple[str, str]:
    base, _, rest = symbol.partition("/")
    return base, rest.split(":")[0]


def _tolerance(scale: float) -> float:
    return REL_TOL * max(scale, 1.0)


def fill_effect(fill: Mapping[str, Any], fee: float, fee_currency: str | None) -> tuple[float, float]:
    """(change of position, change of quote cash) of one fill with the fee as stored."""
    base, quote = split_symbol(str(fill["symbol"]))
    sign = 1.0 if fill["side"] == "buy" else -1.0
    amount, price = float(fill["amount"]), float(fill["price"])
    quantity, cash = sign * amount, -sign * amount * price
    if fee_currency == base:
        quantity -= fee
    elif fee_currency is None or fee_currency == quote:
        cash -= fee
    return quantity, cash


def walk(
    fills: list[Mapping[str, Any]], fee_of: Callable[[Mapping[str, Any]], tuple[float, str | None]]
) -> tuple[list[RoundTrip], float, float]:
    """(completed flat-to-flat trips, final position, largest quantity seen) of one symbol."""
    trips: list[RoundTrip] = []
    current = RoundTrip()
    position = scale = 0.0
    for fill in sorted(fills, key=lambda f: (f["ts_ms"], f["id"], f["order_id"])):
        fee, currency = fee_of(fill)
        quantity, cash = fill_effect(fill, fee, currency)
        position += quantity
        scale = max(scale, abs(position), abs(float(fill["amount"])))
        current.fill_ids.append(str(fill["id"]))
        current.cash += cash
        current.gross += abs(float(fill["amount"]) * float(fill["price"]))
        if abs(position) <= REL_TOL * scale:
            trips.append(current)
            current, position = RoundTrip(), 0.0
    return trips, position, scale


def compare_pnl(
    add: Callable[[str], None],
    label: str,
    account: Mapping[str, Any],
    results: Mapping[str, TradeResult],
    stored_fee: Callable[[Mapping[str, Any]], tuple[float, str | None]],
) -> None:
    """Report through ``add`` every symbol whose stored positions or realised PnL are wrong.

    A symbol with a fill missing from storage is skipped: the fill check reports that already."""
    by_symbol: dict[str, list[Mapping[str, Any]]] = {}
    for fill in account["fills"]:
        by_symbol.setdefault(str(fill["symbol"]), []).append(fill)
    positions = {str(p["symbol"]): float(p["contracts"]) for p in account["positions"]}
    for symbol, fills in sorted(by_symbol.items()):
        if any(str(f["id"]) not in results for f in fills):
            continue
        trips, net, scale = walk(fills, stored_fee)
        for trip in trips:
            _trip(add, label, symbol, trip, results)
        expected = positions.get(symbol, 0.0) if ":" in symbol else net
        _final_volume(add, label, symbol, expected, scale, [results[str(f["id"])] for f in fills])


def _trip(
    add: Callable[[str], None], label: str, symbol: str, trip: RoundTrip, results: Mapping[str, TradeResult]
) -> None:
    span = f"{symbol} round trip {trip.fill_ids[0]}..{trip.fill_ids[-1]} ({len(trip.fill_ids)} fills)"
    unknown = [fid for fid in trip.fill_ids if results[fid].roi is None]
    if unknown:
        fills = ", ".join(unknown[:3])
        add(f"{label}: {span}: realised PnL unknown for fill {fills}; truth {trip.cash:.10g}")
        return
    stored = math.fsum(results[fid].roi or 0.0 for fid in trip.fill_ids)
    if abs(stored - trip.cash) > _tolerance(trip.gross):
        add(f"{label}: {span}: stored realised PnL {stored:.10g}; truth {trip.cash:.10g}")


def _final_volume(
    add: Callable[[str], None],
    label: str,
    symbol: str,
    expected: float,
    scale: float,
    stored: list[TradeResult],
) -> None:
    last = max(stored, key=lambda r: (r.time_ms, r.ex_trade_id, r.ex_order_id))
    where = f"{label}: {symbol} position after fill {last.ex_trade_id}"
    if last.cur_volume is None:
        add(f"{where} unknown; truth {expected:g}")
    elif abs(last.cur_volume - expected) > _tolerance(scale):
        add(f"{where} is {last.cur_volume:g}; truth {expected:g}")
