"""Prices and cash movements outside trading, and the per-account clock every event takes.

``CashLedger`` is the part of the simulator's ledger (``ledger.Ledger``) that is not orders and
fills: ledger entries (funding payments, deposits, withdrawals, transfers, rebates, interest,
adjustments; each recorded in ``SimAccount.ledger``) and mark prices, plus what every mutation shares
(markets, last prices, each account's strictly increasing clock and id counters, and the
``BalancesChanged`` notification of the currencies a mutation moved).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from fullon_account_service.simulator import accounting
from fullon_account_service.simulator.ids import IdKind, hyperliquid_funding_id, make_id
from fullon_account_service.simulator.ledger_kinds import (
    cash_decimals,
    liquidation_type,
    raw_type,
    withdrawal_fee,
)
from fullon_account_service.simulator.model import (
    BalancesChanged,
    FundingTerms,
    LedgerAdded,
    LedgerReason,
    LiquidationTerms,
    Market,
    PositionChanged,
    SimAccount,
    SimBalance,
    SimFill,
    SimLedgerEntry,
    SimOrder,
    SimTransfer,
    World,
)

EPS = 1e-9


@dataclass(slots=True)
class AccountState:
    counters: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    last_ms: int = 0
    open: dict[str, SimOrder] = field(default_factory=dict)


class CashLedger:
    """Applies ledger entries and prices to ``world`` and tells the listeners (``LedgerAdded``
    before the ``BalancesChanged`` it causes)."""

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

    # -- ledger entries and prices ---------------------------------------------------------------
    def book(
        self,
        account: SimAccount,
        currency: str,
        amount: float,
        reason: LedgerReason,
        *,
        fee: float = 0.0,
        symbol: str | None = None,
        funding: FundingTerms | None = None,
        transfer: SimTransfer | None = None,
    ) -> SimLedgerEntry:
        """Move ``currency`` by ``amount - fee`` (rounded as the venue shows them) and record why;
        a completing ``transfer`` gives the entry its id and request time.

        Refused (``ValueError``) when the venue has no such entries or a debit exceeds free funds."""
        raw = raw_type(account.venue, reason)
        decimals = cash_decimals(account.venue, currency)
        amount, fee = round(amount, decimals), round(fee, decimals)
        if fee < 0:
            raise ValueError("a ledger fee cannot be negative")
        if amount == 0 and fee == 0:
            raise ValueError("a ledger entry must move the balance")
        balance = account.balances.get(currency, SimBalance(0.0))
        if amount - fee < 0 and reason != "funding" and fee - amount > balance.free + EPS:
            raise ValueError(f"cannot take {fee - amount} {currency}: free is {balance.free}")
        ts = self._ts(account)
        before = accounting.snapshot(account)
        accounting.adjust(account, currency, amount - fee)
        entry = SimLedgerEntry(
            entry_id=transfer.transfer_id if transfer else self._entry_id(account, reason, symbol, ts),
            currency=currency,
            amount=amount,
            reason=reason,
            raw_type=raw,
            ts_ms=ts,
            balance_after=account.balances[currency].total,
            symbol=symbol,
            fee=fee,
            funding=funding,
            requested_ms=transfer.requested_ms if transfer else None,
        )
        account.ledger.append(entry)
        account.emit(LedgerAdded(entry))
        self._emit_balances(account, before)
        return entry

    def funding(self, account: SimAccount, symbol: str, rate: float) -> SimLedgerEntry | None:
        """A funding payment on the ``symbol`` position: longs pay ``rate`` x value, shorts receive.
        ``None`` when it rounds to nothing in the venue's digits (no venue lists a zero payment)."""
        pos = account.positions.get(symbol)
        if pos is None:
            raise ValueError(f"no {symbol} position to fund")
        market = self.market(account, symbol)
        size = abs(pos.contracts)
        paid = size * pos.mark_price * rate * (1.0 if pos.contracts > 0 else -1.0)
        terms = FundingTerms("buy" if pos.contracts > 0 else "sell", size, pos.mark_price, rate)
        if round(paid, cash_decimals(account.venue, str(market.settle))) == 0:
            return None
        return self.book(account, str(market.settle), -paid, "funding", symbol=symbol, funding=terms)

    def note_liquidation(self, account: SimAccount, fill: SimFill, cash_flow: float) -> SimLedgerEntry:
        """The row the venue's ledger lists beside a liquidation fill, at the fill's time (Bybit's
        transaction log ``LIQUIDATION`` / ``ADL``, Hyperliquid's ``liquidation`` update): it moves
        nothing, the fill (``cash_flow - fee``) did."""
        settle = str(self.market(account, fill.symbol).settle)
        entry = SimLedgerEntry(
            entry_id=self._next_id(account, "ledger"),
            currency=settle,
            amount=0.0,
            reason="liquidation",
            raw_type=liquidation_type(account.venue, fill.exec_kind),
            ts_ms=fill.ts_ms,
            balance_after=account.balances[settle].total,
            symbol=fill.symbol,
            liquidation=LiquidationTerms(
                fill.order_id, fill.trade_id, fill.side, fill.amount, fill.price, cash_flow, fill.fee
            ),
        )
        account.ledger.append(entry)
        account.emit(LedgerAdded(entry))
        return entry

    def deposit(self, account: SimAccount, currency: str, amount: float) -> SimLedgerEntry:
        if amount <= 0:
            raise ValueError("deposit must be positive")
        return self.book(account, currency, amount, "deposit")

    def withdraw(self, account: SimAccount, currency: str, amount: float) -> SimLedgerEntry:
        """``amount`` leaves for an address; the venue's withdrawal fee is charged on top."""
        if amount <= 0:
            raise ValueError("withdrawal must be positive")
        fee = withdrawal_fee(account.venue, currency, amount)
        return self.book(account, currency, -amount, "withdrawal", fee=fee)

    def request_transfer(
        self, account: SimAccount, reason: LedgerReason, currency: str, amount: float
    ) -> SimTransfer:
        """A deposit or withdrawal of ``amount`` that waits: listed pending, booked by
        ``settle_transfer``. Only Bybit lists transfers before they complete."""
        if account.venue != "bybit" or reason not in ("deposit", "withdrawal"):
            raise ValueError(f"{account.venue} lists no pending {reason}")
        if amount <= 0:
            raise ValueError(f"{reason} must be positive")
        amount = round(amount, cash_decimals(account.venue, currency))
        fee = withdrawal_fee(account.venue, currency, amount) if reason == "withdrawal" else 0.0
        transfer = SimTransfer(
            transfer_id=self._next_id(account, "ledger"),
            reason=reason,
            currency=currency,
            amount=amount,
            requested_ms=self._ts(account),
            fee=fee,
        )
        account.transfers.append(transfer)
        return transfer

    def settle_transfer(
        self, account: SimAccount, transfer: SimTransfer, *, done: bool
    ) -> SimLedgerEntry | None:
        """The venue finishes a pending transfer: ``done`` books it now (a withdrawal the free
        funds no longer cover fails instead, as a venue refuses it); otherwise it fails and
        nothing is booked."""
        if transfer.state != "pending" or transfer not in account.transfers:
            raise ValueError(f"transfer {transfer.transfer_id} is not pending")
        if done and transfer.reason == "withdrawal":
            free = account.balances.get(transfer.currency, SimBalance(0.0)).free
            done = transfer.amount + transfer.fee <= free + EPS
        if not done:
            transfer.state, transfer.settled_ms = "failed", self._ts(account)
            return None
        account.transfers.remove(transfer)
        signed = transfer.amount if transfer.reason == "deposit" else -transfer.amount
        return self.book(
            account, transfer.currency, signed, transfer.reason, fee=transfer.fee, transfer=transfer
        )

    def transfer(self, account: SimAccount, currency: str, amount: float) -> SimLedgerEntry:
        """From (``amount`` > 0) or to (< 0) another wallet or sub-account of the same owner."""
        if amount == 0:
            raise ValueError("transfer must not be zero")
        return self.book(account, currency, amount, "transfer_in" if amount > 0 else "transfer_out")

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

    def _entry_id(self, account: SimAccount, reason: LedgerReason, symbol: str | None, ts: int) -> str:
        if account.venue == "hyperliquid" and reason == "funding" and symbol is not None:
            return hyperliquid_funding_id(self.market(account, symbol).base, ts)
        return self._next_id(account, "ledger")

    def _next_id(self, account: SimAccount, kind: IdKind) -> str:
        counters = self._st(account).counters
        counters[kind] += 1
        return make_id(self.world.seed, account.venue, account.index, kind, counters[kind])
