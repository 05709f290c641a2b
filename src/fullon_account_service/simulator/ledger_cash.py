"""Prices and cash movements outside trading, and the per-account clock every event takes.

``CashLedger`` is the part of the simulator's ledger (``ledger.Ledger``) that is not orders and
fills: funding payments, deposits, withdrawals and mark prices, plus what every mutation shares
(markets, last prices, each account's strictly increasing clock and id counters, and the
``BalancesChanged`` notification of the currencies a mutation moved).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from fullon_account_service.simulator import accounting
from fullon_account_service.simulator.ids import IdKind, make_id
from fullon_account_service.simulator.model import (
    BalancesChanged,
    FundingAdded,
    Market,
    PositionChanged,
    SimAccount,
    SimBalance,
    SimFunding,
    SimOrder,
    World,
)

EPS = 1e-9


@dataclass(slots=True)
class AccountState:
    counters: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    last_ms: int = 0
    open: dict[str, SimOrder] = field(default_factory=dict)


class CashLedger:
    """Applies funding and cash events to ``world`` and tells the listeners."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._markets = {(v, m.symbol): m for v, ms in world.markets.items() for m in ms}
        self._prices = {key: m.price for key, m in self._markets.items()}
        self._state: dict[tuple[str, int], AccountState] = {}

    # -- reads ---------------------------------------------------------------------------------
    def market(self, account: SimAccount, symbol: str) -> Market:
        try:
            return self._markets[(account.venue, symbol)]
        except KeyError:
            raise KeyError(f"{account.venue} has no market {symbol}") from None

    def price(self, venue: str, symbol: str) -> float:
        """Last mark price of ``symbol`` on ``venue`` (starts at the catalog price)."""
        return self._prices[(venue, symbol)]

    def open_orders(self, account: SimAccount) -> list[SimOrder]:
        return list(self._st(account).open.values())

    def last_ms(self, account: SimAccount) -> int:
        """Timestamp of the account's latest event (0 before any)."""
        return self._st(account).last_ms

    # -- funding and prices ---------------------------------------------------------------------
    def funding(self, account: SimAccount, symbol: str, rate: float) -> SimFunding:
        """A funding payment on the ``symbol`` position: longs pay ``rate`` x value, shorts receive."""
        pos = account.positions.get(symbol)
        if pos is None:
            raise ValueError(f"no {symbol} position to fund")
        market = self.market(account, symbol)
        before = accounting.snapshot(account)
        size = abs(pos.contracts)
        fee = round(size * pos.mark_price * rate * (1.0 if pos.contracts > 0 else -1.0), 8)
        currency = str(market.settle)
        accounting.adjust(account, currency, -fee)
        funding = SimFunding(
            funding_id=self._next_id(account, "funding"),
            symbol=symbol,
            side="buy" if pos.contracts > 0 else "sell",
            size=size,
            mark_price=pos.mark_price,
            rate=rate,
            fee=fee,
            currency=currency,
            ts_ms=self._ts(account),
        )
        account.fundings.append(funding)
        account.emit(FundingAdded(funding))
        self._emit_balances(account, before)
        return funding

    def deposit(self, account: SimAccount, currency: str, amount: float) -> None:
        if amount <= 0:
            raise ValueError("deposit must be positive")
        self._ts(account)
        before = accounting.snapshot(account)
        accounting.adjust(account, currency, amount)
        self._emit_balances(account, before)

    def withdraw(self, account: SimAccount, currency: str, amount: float) -> None:
        balance = account.balances.get(currency, SimBalance(0.0))
        if amount <= 0 or amount > balance.free + EPS:
            raise ValueError(f"cannot withdraw {amount} {currency}: free is {balance.free}")
        self._ts(account)
        before = accounting.snapshot(account)
        accounting.adjust(account, currency, -amount)
        self._emit_balances(account, before)

    def mark(self, account: SimAccount, symbol: str, price: float) -> None:
        """Move ``symbol``'s mark price; the account's position (if any) is revalued."""
        market = self.market(account, symbol)
        self._prices[(account.venue, symbol)] = price
        pos = account.positions.get(symbol)
        if pos is None:
            return
        pos.mark_price = price
        pos.updated_ms = self._ts(account)
        account.emit(PositionChanged(symbol))
        account.emit(BalancesChanged((str(market.settle),)))

    def set_price(self, venue: str, symbol: str, price: float) -> None:
        """Move a venue-wide price and revalue every account holding ``symbol``."""
        self._prices[(venue, symbol)] = price
        for account in self.world.accounts_of(venue):
            if symbol in account.positions:
                self.mark(account, symbol, price)

    # -- internals ------------------------------------------------------------------------------
    def _emit_balances(self, account: SimAccount, before: dict[str, tuple[float, float]]) -> None:
        changed = accounting.changed_currencies(account, before)
        if changed:
            account.emit(BalancesChanged(changed))

    def _st(self, account: SimAccount) -> AccountState:
        key = (account.venue, account.index)
        st = self._state.get(key)
        if st is None:
            st = self._state[key] = AccountState()
        return st

    def _ts(self, account: SimAccount) -> int:
        """The world clock, but strictly increasing per account so events order unambiguously."""
        st = self._st(account)
        st.last_ms = max(self.world.now_ms(), st.last_ms + 1)
        return st.last_ms

    def _next_id(self, account: SimAccount, kind: IdKind) -> str:
        counters = self._st(account).counters
        counters[kind] += 1
        return make_id(self.world.seed, account.venue, account.index, kind, counters[kind])
