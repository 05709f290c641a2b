"""Realised PnL by true FIFO lots, one book per (ex_id, symbol).

Pure arithmetic: no I/O, no clock. The trades repository feeds it the fills of one symbol in
order and writes what it returns into fullon's ``trades`` columns; ``checkpoint`` saves and
restores its open lots.

Order
    Fills are applied in ``(time_ms, ex_trade_id, ex_order_id)`` order (``sort_key``), whatever
    order they arrived in, so the books are a function of the set of fills alone.

Quantity and fees of a fill
    ``side`` buy adds to the position, sell subtracts. The fee is turned into quote currency:
    - fee currency = the symbol's quote, or unknown (``None``): the fee is in quote as is;
    - fee currency = the symbol's base: the fee changes the quantity, not the price. A buy
      receives ``volume - fee`` units, a sell gives up ``volume + fee`` units, both at the fill
      price; the fee is also counted as ``fee * price`` quote. Cash stays exact: a buy costs
      ``(volume - fee) * price + fee * price = volume * price``, a sell yields
      ``(volume + fee) * price - fee * price = volume * price``;
    - any other currency (BNB, KFEE, ...): no price to convert it with, so it is left out of the
      PnL (counted as 0); the raw ``fee`` column still holds it.
    A buy whose base fee is at least its volume moves no quantity; its whole quote fee is realised.

Lots
    The open position is a queue of lots, all on the same side, oldest first. Each lot keeps its
    open quantity, its fill price and the quote fee per unit it carries (the share of its opening
    fill's fee that was not realised). A fill on the position's side (or on a flat book) appends a
    lot. A fill on the other side consumes lots from the oldest; a fill larger than the position
    is split: it closes the whole position and opens the remainder as a new lot on its side (a
    flip). The fill's quote fee is apportioned pro rata to quantity: the closing share is realised
    by this fill, the opening share travels with the new lot and is realised when that lot closes.
    Quantities within a relative 1e-9 of each other are treated as equal, so float dust never
    leaves a phantom lot.

Output per fill (the position after the fill, and the result of the part it closed)
    - ``cur_volume``: signed position: > 0 long, < 0 short, 0 flat;
    - ``cur_avg_price``: volume-weighted mean price of the open lots (0 when flat);
    - ``cur_avg_cost``: quote notional of the open lots, sum of quantity * price (fees excluded,
      as in fullon where it is the position's cost; 0 when flat);
    - ``cur_fee``: quote fees carried by the open lots, not yet realised;
    - ``roi``: realised PnL of the closed part, net of every fee belonging to it:
      ``sum(side * (fill price - lot price) * qty) - lot fees carried - closing share of the fee``
      where side is +1 for a long position and -1 for a short; 0 when nothing closed (except the
      fee-only case above);
    - ``total_fee``: the fees in that ``roi``: carried lot fees plus the closing share;
    - ``roi_pct``: ``roi / (closed cost / leverage) * 100``, closed cost being the lots' quote
      notional (sum of qty * lot price) and leverage the closing fill's (1 when not reported), so
      on a margined position it is the return on the margin; 0 when nothing closed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from fullon_account_service.ledger.fills import Fill, SortKey

REL_EPS = 1e-9


class PnlRow(msgspec.Struct, frozen=True, gc=False):
    """The position after a fill and the result of the part it closed (a Struct: one per fill)."""

    cur_volume: float
    cur_avg_price: float
    cur_avg_cost: float
    cur_fee: float
    roi: float
    roi_pct: float
    total_fee: float


@dataclass(slots=True)
class Lot:
    qty: float
    price: float
    fee_per_unit: float


def sort_key(fill: Fill) -> SortKey:
    return (fill.time_ms, fill.ex_trade_id, fill.ex_order_id)


def split_symbol(symbol: str) -> tuple[str, str]:
    """``"BTC/USDT:USDT"`` -> ``("BTC", "USDT")``; a symbol without ``/`` has no known quote."""
    base, _, rest = symbol.partition("/")
    return base.upper(), rest.partition(":")[0].upper()


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= REL_EPS * max(abs(a), abs(b))


def normalise(fill: Fill, base: str, quote: str) -> tuple[int, float, float]:
    """(direction +1/-1, quantity moved, fee in quote) of a fill; see the module docstring."""
    direction = 1 if fill.side == "buy" else -1
    fee = fill.fee or 0.0
    currency = (fill.fee_currency or quote).upper()
    if currency == base and currency != quote:
        qty = max(fill.volume - fee, 0.0) if direction > 0 else fill.volume + fee
        return direction, qty, fee * fill.price
    if currency == quote:
        return direction, fill.volume, fee
    return direction, fill.volume, 0.0


class FifoBook:
    """The open lots of one symbol and the arithmetic that moves them."""

    def __init__(self, symbol: str, lots: Iterable[Lot] = (), direction: int = 0) -> None:
        self.base, self.quote = split_symbol(symbol)
        self._lots: deque[Lot] = deque(lots)
        self._dir = direction if self._lots else 0
        self._qty = self._cost = self._fee = 0.0
        self._resum()

    @property
    def lots(self) -> list[Lot]:
        return [Lot(lot.qty, lot.price, lot.fee_per_unit) for lot in self._lots]

    @property
    def direction(self) -> int:
        return self._dir

    @property
    def volume(self) -> float:
        return self._dir * self._qty

    def _resum(self) -> None:
        """Totals from the lots themselves: subtracting closed lots from running totals would
        leave cancellation error behind, so after any close the sums are taken afresh."""
        self._qty = sum(lot.qty for lot in self._lots)
        self._cost = sum(lot.qty * lot.price for lot in self._lots)
        self._fee = sum(lot.qty * lot.fee_per_unit for lot in self._lots)
        if not self._lots:
            self._dir = 0

    def apply(self, fill: Fill) -> PnlRow:
        direction, qty, fee_q = normalise(fill, self.base, self.quote)
        pnl = closed_cost = lot_fees = 0.0
        open_qty = qty
        if self._dir == -direction and qty > 0:
            open_qty, pnl, closed_cost, lot_fees = self._close(fill.price, qty)
            self._resum()
        closing_fee = fee_q if open_qty <= 0 else fee_q * (qty - open_qty) / qty
        if open_qty > 0:
            self._open(direction, open_qty, fill.price, (fee_q - closing_fee) / open_qty)
        roi = pnl - lot_fees - closing_fee
        leverage = fill.leverage or 1.0
        return PnlRow(
            cur_volume=self.volume,
            cur_avg_price=self._cost / self._qty if self._qty > 0 else 0.0,
            cur_avg_cost=self._cost,
            cur_fee=self._fee,
            roi=roi,
            roi_pct=roi / (closed_cost / leverage) * 100.0 if closed_cost > 0 else 0.0,
            total_fee=lot_fees + closing_fee,
        )

    def _open(self, direction: int, qty: float, price: float, fee_per_unit: float) -> None:
        self._lots.append(Lot(qty, price, fee_per_unit))
        self._dir = direction
        self._qty += qty
        self._cost += qty * price
        self._fee += qty * fee_per_unit

    def _close(self, price: float, qty: float) -> tuple[float, float, float, float]:
        """Consume lots oldest first; (quantity left to open, gross pnl, closed cost, lot fees)."""
        remaining = qty
        pnl = cost = fees = 0.0
        side = self._dir
        lots = self._lots
        while remaining > 0 and lots:
            lot = lots[0]
            if lot.qty <= remaining or _same(lot.qty, remaining):
                take = lot.qty
                lots.popleft()
                remaining = 0.0 if _same(take, remaining) else remaining - take
            else:
                take = remaining
                lot.qty -= take
                remaining = 0.0
            pnl += side * (price - lot.price) * take
            cost += take * lot.price
            fees += take * lot.fee_per_unit
        if remaining <= REL_EPS * qty:
            remaining = 0.0
        return remaining, pnl, cost, fees


def compute(symbol: str, fills: Iterable[Fill], book: FifoBook | None = None) -> list[tuple[Fill, PnlRow]]:
    """Apply fills in canonical order to ``book`` (a fresh one by default)."""
    book = book if book is not None else FifoBook(symbol)
    return [(fill, book.apply(fill)) for fill in sorted(fills, key=sort_key)]
