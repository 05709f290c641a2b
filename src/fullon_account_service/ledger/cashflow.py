"""What each fill and ledger entry does to an account's balances: signed amounts per currency.

The balances these flows explain are wallet balances (``total``, excluding unrealised PnL: see
docs/fields.md), so the cash a fill moves is:

- **spot** (a symbol without ``:settle``): a buy adds ``volume`` of base and takes ``cost`` of
  quote, a sell the reverse; the fee is taken from ``fee_currency`` (the quote when unsaid).
- **linear derivatives** (``BASE/QUOTE:SETTLE``): the venue books the realised PnL of the part a
  fill closes, and the fee, to the settle currency. Realised PnL is the venue's, not the FIFO of
  ``ledger.fifo``: a one-way position with a volume-weighted entry price, a close realising
  ``(price - entry) x closed`` (reversed for a short), a flip opening the remainder at the fill's
  price. FIFO and this average cost agree on every flat-to-flat round trip, not on a partial close.
  Positions are replayed from flat at the first fill given, so the fills must be the symbol's
  whole history (a position opened before it cannot be known). Inverse contracts (settle = base)
  realise in base at ``1/price`` and are not modelled: their flows are reported as the linear ones
  would be, and so leave a remainder.
- **a fee stated in another currency than the one charged**: Kraken states every fill's fee in
  the quote currency, also when it charged it in base (its order says ``fcib``). ``fee_in_base``
  names such orders; their fills' fees are taken from base, ``fee / price``.
- **a ledger entry** moves ``currency`` by ``amount`` and takes ``fee`` from ``fee_currency``
  (``currency`` when unsaid).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from fullon_account_service.ledger.entries import LedgerRecord
from fullon_account_service.ledger.fills import Fill

QTY_EPS = 1e-10
"""A position smaller than this is flat (the venues round sizes far coarser)."""


class Flow(NamedTuple):
    """One signed movement of one currency, with what caused it (``fill <id>`` / ``ledger <id>``)."""

    time_ms: int
    currency: str
    amount: float
    cause: str


@dataclass(frozen=True, slots=True)
class Instrument:
    base: str
    quote: str
    settle: str | None
    """``None`` for spot."""

    @classmethod
    def of(cls, symbol: str) -> Instrument:
        pair, _, settle = symbol.partition(":")
        base, _, quote = pair.partition("/")
        return cls(base.upper(), quote.upper(), settle.upper() or None)


@dataclass(slots=True)
class _Position:
    qty: float = 0.0
    entry: float = 0.0

    def apply(self, delta: float, price: float) -> float:
        """Net a signed fill into the position; the realised PnL of the part it closed."""
        if abs(self.qty) <= QTY_EPS or self.qty * delta > 0:
            size = abs(self.qty)
            self.entry = (size * self.entry + abs(delta) * price) / (size + abs(delta))
            self.qty += delta
            return 0.0
        closed = min(abs(delta), abs(self.qty))
        realised = (price - self.entry) * closed * (1.0 if self.qty > 0 else -1.0)
        rest = abs(delta) - closed
        if rest > QTY_EPS:
            self.qty = rest if delta > 0 else -rest
            self.entry = price
        else:
            self.qty += delta
            if abs(self.qty) <= QTY_EPS:
                self.qty, self.entry = 0.0, 0.0
        return realised


def fill_flows(fills: Iterable[Fill], fee_in_base: Collection[str] = ()) -> list[Flow]:
    """The flows of ``fills`` (any order; replayed per symbol in ``(time, id)`` order)."""
    positions: dict[str, _Position] = {}
    flows: list[Flow] = []
    for fill in sorted(fills, key=lambda f: f.sort_key):
        inst = Instrument.of(fill.symbol)
        cause = f"fill {fill.ex_trade_id}"
        sign = 1.0 if fill.side == "buy" else -1.0
        fee = fill.fee or 0.0
        if inst.settle is None:
            fee_currency = (fill.fee_currency or inst.quote).upper()
            flows.append(Flow(fill.time_ms, inst.base, sign * fill.volume, cause))
            flows.append(Flow(fill.time_ms, inst.quote, -sign * fill.cost, cause))
            if fill.ex_order_id in fee_in_base and fee_currency == inst.quote and fill.price > 0:
                fee_currency, fee = inst.base, fee / fill.price
        else:
            fee_currency = (fill.fee_currency or inst.settle).upper()
            position = positions.setdefault(fill.symbol, _Position())
            realised = position.apply(sign * fill.volume, fill.price)
            if realised:
                flows.append(Flow(fill.time_ms, inst.settle, realised, cause))
        if fee:
            flows.append(Flow(fill.time_ms, fee_currency, -fee, cause))
    return flows


def entry_flows(entries: Iterable[LedgerRecord]) -> list[Flow]:
    flows: list[Flow] = []
    for entry in entries:
        cause = f"ledger {entry.ex_ledger_id}"
        currency = entry.currency.upper()
        flows.append(Flow(entry.time_ms, currency, entry.amount, cause))
        if entry.fee:
            flows.append(Flow(entry.time_ms, entry.fee_in.upper(), -entry.fee, cause))
    return flows
