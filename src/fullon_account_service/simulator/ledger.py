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
  (liquidation, bust or ADL), then records the venue's ledger row of it (``note_liquidation``:
  amount 0, the fill moved the balance).
"""

from __future__ import annotations

from fullon_account_service.simulator import accounting
from fullon_account_service.simulator.accounting import default_leverage, fee_rate
from fullon_account_service.simulator.ledger_cash import EPS, CashLedger
from fullon_account_service.simulator.model import (
    ExecKind,
    FillAdded,
    OrderChanged,
    OrderSide,
    OrderType,
    PositionChanged,
    SimAccount,
    SimFill,
    SimOrder,
    TriggerKind,
)

__all__ = ["Ledger", "default_leverage", "fee_rate"]


class Ledger(CashLedger):
    """Applies orders and fills to ``world`` and tells the listeners (funding, cash and
    prices in ``CashLedger``)."""

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
        settle = str(self.market(account, symbol).settle)
        before = account.balances[settle].total
        fill = self.fill(account, order, order.amount, price, taker=True, exec_kind=kind)
        self.note_liquidation(account, fill, account.balances[settle].total - before + fill.fee)
        return fill

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
        if amount <= 0 or amount > order.remaining * (1 + EPS) + EPS:
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
            if order.amount - order.filled - amount <= order.amount * EPS
            else order.filled + amount
        )
        order.cost += cost
        order.fee += fee
        order.fee_currency = fee_currency
        order.updated_ms = ts
        if order.remaining <= order.amount * EPS:
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
