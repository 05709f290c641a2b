"""The only writer of the world: orders, fills, balances and positions, always consistent.

Every mutation updates the account and then emits the matching ``Change`` notifications so the
venues can push WebSocket messages. Emission order for a fill: ``FillAdded``, ``OrderChanged``,
``PositionChanged`` (perps), ``BalancesChanged``.

Accounting rules the venues render:
- Spot: a buy fill adds the base amount (minus the fee when the fee is charged in base) and takes
  the cost (plus the fee when charged in quote); a sell is the reverse. One fee currency per order:
  the first fill decides, later fills follow. Open limit orders lock ``used``: buy ``price *
  remaining`` of quote, sell ``remaining`` of base. Market orders lock nothing.
- Perps: one net position per symbol, entry price volume weighted; reducing fills realise pnl into
  the settle currency's ``total``, fees come from it too. ``used`` of the settle currency is the
  margin of the open positions plus ``price * remaining / leverage`` of open non-reduce-only limit
  orders. ``SimBalance.total`` is the wallet balance (realised only); equity = total + the
  positions' ``unrealized_pnl``. A flat position is removed from ``account.positions`` (the
  ``PositionChanged`` for it tells renderers to publish a closed position).
- An order placed without enough free funds is created with status ``rejected`` (like a venue's
  insufficient-funds reject); ``reject()`` rejects an order the scenario decides to refuse.
- Leverage is a per-symbol setting of the account (``SimAccount.leverage``), fixed by the first
  contract order of the symbol, as on the venues.
- Conditional orders (``trigger_kind``) rest untriggered, lock nothing and cannot fill until
  ``trigger()``; then they work as their ``order_type``.
- ``liquidate()`` closes a position with a venue-initiated order whose fill is marked
  (liquidation, bust or ADL).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from fullon_account_service.simulator import accounting
from fullon_account_service.simulator.accounting import default_leverage, fee_rate
from fullon_account_service.simulator.ids import IdKind, make_id
from fullon_account_service.simulator.model import (
    BalancesChanged,
    ExecKind,
    FillAdded,
    FundingAdded,
    Market,
    OrderChanged,
    OrderSide,
    OrderType,
    PositionChanged,
    SimAccount,
    SimBalance,
    SimFill,
    SimFunding,
    SimOrder,
    TriggerKind,
    World,
)

__all__ = ["Ledger", "default_leverage", "fee_rate"]

_EPS = 1e-9


@dataclass(slots=True)
class _AccountState:
    counters: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    last_ms: int = 0
    open: dict[str, SimOrder] = field(default_factory=dict)


class Ledger:
    """Applies trading and funding events to ``world`` and tells the listeners."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._markets = {(v, m.symbol): m for v, ms in world.markets.items() for m in ms}
        self._prices = {key: m.price for key, m in self._markets.items()}
        self._state: dict[tuple[str, int], _AccountState] = {}

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

    # -- orders ---------------------------------------------------------------------------------
    def place_order(
        self,
        account: SimAccount,
        symbol: str,
        side: OrderSide,
        order_type: OrderType,
        amount: float,
        price: float | None = None,
        client_order_id: str | None = None,
        leverage: float | None = None,
        reduce_only: bool = False,
        *,
        trigger: tuple[TriggerKind, float] | None = None,
        protection_price: float | None = None,
        builder_fee_rate: float = 0.0,
        venue_initiated: ExecKind | None = None,
    ) -> SimOrder:
        market = self.market(account, symbol)
        if amount <= 0:
            raise ValueError("amount must be positive")
        if (order_type == "limit") != (price is not None):
            raise ValueError("limit orders need a price, market orders take none")
        if market.kind == "swap":
            pos = account.positions.get(symbol)
            setting = pos.leverage if pos else (leverage or default_leverage(market))
            leverage = account.leverage.setdefault(symbol, setting)
        else:
            leverage, reduce_only = None, False
        ts = self._ts(account)
        order = SimOrder(
            order_id=self._next_id(account, "order"),
            symbol=symbol,
            side=side,
            order_type=order_type,
            amount=amount,
            created_ms=ts,
            updated_ms=ts,
            price=price,
            client_order_id=client_order_id,
            leverage=leverage,
            reduce_only=reduce_only,
            trigger_kind=trigger[0] if trigger else None,
            trigger_price=trigger[1] if trigger else None,
            protection_price=protection_price if order_type == "market" else None,
            builder_fee_rate=builder_fee_rate,
            venue_initiated=venue_initiated,
        )
        account.orders[order.order_id] = order
        reference = price if price is not None else self._prices[(account.venue, symbol)]
        if venue_initiated is None and not accounting.affordable(account, market, order, reference):
            order.status = "rejected"
            account.emit(OrderChanged(order))
            return order
        before = accounting.snapshot(account)
        self._st(account).open[order.order_id] = order
        accounting.recompute_used(account, self._markets, self._st(account).open.values())
        account.emit(OrderChanged(order))
        self._emit_balances(account, before)
        return order

    def cancel(self, account: SimAccount, order: SimOrder) -> None:
        self._finish(account, order, "canceled")

    def trigger(self, account: SimAccount, order: SimOrder) -> None:
        """The trigger price was reached: the order becomes a working market or limit order."""
        st = self._st(account)
        if order.order_id not in st.open or not order.resting_untriggered:
            raise ValueError(f"order {order.order_id} is not a resting conditional order")
        before = accounting.snapshot(account)
        order.triggered = True
        order.updated_ms = self._ts(account)
        accounting.recompute_used(account, self._markets, st.open.values())
        account.emit(OrderChanged(order))
        self._emit_balances(account, before)

    def liquidate(self, account: SimAccount, symbol: str, kind: ExecKind, price: float) -> SimFill:
        """The venue closes the whole position at ``price`` with an order of its own."""
        pos = account.positions.get(symbol)
        if pos is None:
            raise ValueError(f"no {symbol} position to close")
        side: OrderSide = "sell" if pos.contracts > 0 else "buy"
        order = self.place_order(
            account,
            symbol,
            side,
            "market",
            abs(pos.contracts),
            None,
            None,
            pos.leverage,
            True,
            venue_initiated=kind,
        )
        return self.fill(account, order, order.amount, price, taker=True, exec_kind=kind)

    def reject(self, account: SimAccount, order: SimOrder) -> None:
        if order.filled > 0:
            raise ValueError(f"order {order.order_id} has fills; cancel it instead")
        self._finish(account, order, "rejected")

    def fill(
        self,
        account: SimAccount,
        order: SimOrder,
        amount: float,
        price: float,
        *,
        taker: bool,
        fee_in_base: bool = False,
        exec_kind: ExecKind | None = None,
    ) -> SimFill:
        st = self._st(account)
        if order.order_id not in st.open:
            raise ValueError(f"order {order.order_id} is {order.status}, not open")
        if order.resting_untriggered:
            raise ValueError(f"order {order.order_id} has not been triggered")
        if amount <= 0 or amount > order.remaining * (1 + _EPS) + _EPS:
            raise ValueError(f"fill {amount} exceeds remaining {order.remaining}")
        market = self.market(account, order.symbol)
        before = accounting.snapshot(account)
        ts = self._ts(account)
        rate = fee_rate(account.venue, market.kind, taker=taker)
        cost = amount * price
        builder_fee = 0.0
        if market.kind == "spot":
            if order.fee_currency is not None:
                fee_in_base = order.fee_currency == market.base
            fee, fee_currency = accounting.settle_spot(
                account, market, order.side, amount, cost, rate, fee_in_base
            )
        else:
            builder_fee = cost * order.builder_fee_rate
            fee, fee_currency = cost * rate + builder_fee, str(market.settle)
            accounting.adjust(account, fee_currency, -fee)
            realised = accounting.apply_to_position(
                account, market, order.side, amount, price, order.leverage or 1.0, self._prices, ts
            )
            accounting.adjust(account, fee_currency, realised)
            if order.symbol in account.positions:
                account.positions[order.symbol].isolated = order.symbol in account.isolated
        order.filled = (
            order.amount
            if order.amount - order.filled - amount <= order.amount * _EPS
            else order.filled + amount
        )
        order.cost += cost
        order.fee += fee
        order.fee_currency = fee_currency
        order.updated_ms = ts
        if order.remaining <= order.amount * _EPS:
            order.status = "closed"
            del st.open[order.order_id]
        fill = SimFill(
            trade_id=self._next_id(account, "trade"),
            order_id=order.order_id,
            symbol=order.symbol,
            side=order.side,
            price=price,
            amount=amount,
            cost=cost,
            fee=fee,
            fee_currency=fee_currency,
            taker=taker,
            ts_ms=ts,
            leverage=order.leverage,
            exec_kind=exec_kind,
            builder_fee=builder_fee if market.kind == "swap" else 0.0,
        )
        account.fills.append(fill)
        accounting.recompute_used(account, self._markets, st.open.values())
        account.emit(FillAdded(fill))
        account.emit(OrderChanged(order))
        if market.kind == "swap":
            account.emit(PositionChanged(order.symbol))
        self._emit_balances(account, before)
        return fill

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
        if amount <= 0 or amount > balance.free + _EPS:
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
    def _finish(self, account: SimAccount, order: SimOrder, status: accounting.FinalStatus) -> None:
        st = self._st(account)
        if order.order_id not in st.open:
            raise ValueError(f"order {order.order_id} is {order.status}, not open")
        before = accounting.snapshot(account)
        del st.open[order.order_id]
        order.status = status
        order.updated_ms = self._ts(account)
        accounting.recompute_used(account, self._markets, st.open.values())
        account.emit(OrderChanged(order))
        self._emit_balances(account, before)

    def _emit_balances(self, account: SimAccount, before: dict[str, tuple[float, float]]) -> None:
        changed = accounting.changed_currencies(account, before)
        if changed:
            account.emit(BalancesChanged(changed))

    def _st(self, account: SimAccount) -> _AccountState:
        key = (account.venue, account.index)
        st = self._state.get(key)
        if st is None:
            st = self._state[key] = _AccountState()
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
