"""``LedgerRecord``: one balance change that is not a fill, the one shape it has between the wire
and the row.

The ORM sink builds it from a ``LedgerEntry`` event (``from_contract``), the ledger repository
from a stored row, the book check (``verify``) from either. Its fields are the ``ledger`` table's
columns (but the surrogate key), named the same, so adding a column means adding it to the model
(and a migration) and here (and to ``from_contract`` when the wire carries it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import msgspec

from fullon_account_service.contract.events import LedgerEntry, LedgerReason

LedgerKey = tuple[int, str, str]
"""(ex_id, ex_ledger_id, currency): one entry; a second entry under the key is the same fact."""


SYMBOL_CHARGES = (LedgerReason.FUNDING.value, LedgerReason.LIQUIDATION.value)
"""The reasons booked per (ex_id, symbol) beside the FIFO PnL of the symbol's trades."""


class SymbolCharge(NamedTuple):
    """What the entries of one reason moved on one symbol, in one currency: their amounts, and
    minus their fees charged in that currency."""

    symbol: str | None
    currency: str
    reason: str
    amount: float


def summed_charges(rows: Iterable[tuple[str | None, str, str, float]]) -> list[SymbolCharge]:
    """(symbol, currency, reason, amount) rows (per-currency sums of amounts, and of fees negated)
    added up per (symbol, currency, reason), in that order."""
    found: dict[tuple[str | None, str, str], float] = {}
    for symbol, currency, reason, amount in rows:
        key = (symbol, currency, reason)
        found[key] = found.get(key, 0.0) + float(amount)
    ordered = sorted(found.items(), key=lambda item: (item[0][0] or "", item[0][1], item[0][2]))
    return [SymbolCharge(*key, amount) for key, amount in ordered]


class LedgerRecord(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """One ledger entry of an account. ``amount`` is signed from the account's side and excludes
    ``fee`` (charged on top, in ``fee_currency`` or else ``currency``); ``reason`` is a
    ``LedgerReason`` value."""

    ex_id: int
    uid: int
    exchange: str
    ex_ledger_id: str
    currency: str
    amount: float
    reason: str
    time_ms: int
    raw_type: str | None = None
    symbol: str | None = None
    balance_after: float | None = None
    fee: float | None = None
    fee_currency: str | None = None
    event_id: str | None = None

    @classmethod
    def from_contract(
        cls, entry: LedgerEntry, *, ex_id: int, uid: int, exchange: str, event_id: str | None = None
    ) -> LedgerRecord:
        return cls(
            ex_id=ex_id,
            uid=uid,
            exchange=exchange,
            ex_ledger_id=entry.ex_ledger_id,
            currency=entry.currency,
            amount=entry.amount,
            reason=entry.reason.value,
            time_ms=entry.time_ms,
            raw_type=entry.raw_type,
            symbol=entry.symbol,
            balance_after=entry.balance_after,
            fee=entry.fee,
            fee_currency=entry.fee_currency,
            event_id=event_id,
        )

    @property
    def key(self) -> LedgerKey:
        return (self.ex_id, self.ex_ledger_id, self.currency)

    @property
    def fee_in(self) -> str:
        """The currency ``fee`` is charged in."""
        return self.fee_currency or self.currency
