"""Conditional orders and the venue's own acts on an account: the part of the scenario's repertoire
that is not plain trading (``Actions``).

- ``place_trigger`` / ``trigger_or_cancel``: stop, take-profit and trailing orders (where the venue
  has them) rest untriggered, then are triggered (a market one fills at once) or canceled.
- ``liquidate``: Hyperliquid liquidates a position, Bybit takes it over (bust) or auto-deleverages.
- ``transfer``, ``credit``: cash moved from or to another wallet; a rebate, interest or adjustment
  (where the venue has them). Funding is not an action: the engine pays it on a schedule.
"""

from __future__ import annotations

from fullon_account_service.simulator.actions import MAX_OPEN_ORDERS, Actions, round_step
from fullon_account_service.simulator.ledger_kinds import reasons
from fullon_account_service.simulator.model import (
    ExecKind,
    LedgerReason,
    OrderSide,
    OrderType,
    SimAccount,
    TriggerKind,
)

_TRIGGER_KINDS: dict[str, tuple[TriggerKind, ...]] = {
    "kraken": ("stop", "take_profit", "trailing_stop"),
    "bybit": ("stop", "take_profit", "trailing_stop"),
    "hyperliquid": ("stop", "take_profit"),
}

_CREDITS: tuple[LedgerReason, ...] = ("rebate", "interest", "adjustment")
_CASH = frozenset({"USDT", "USDC", "USD", "EUR"})


class VenueActions(Actions):
    def place_trigger(self, account: SimAccount) -> bool:
        """A stop, take-profit or trailing stop, market or limit once triggered, resting untriggered."""
        if len(self.ledger.open_orders(account)) >= MAX_OPEN_ORDERS:
            return False
        markets = self._markets(account)
        if account.venue == "bybit":
            # Spot conditional orders are listed only on request (orderFilter=StopOrder).
            markets = [m for m in markets if m.kind == "swap"]
        market = self.rng.choice(markets)
        side: OrderSide = self.rng.choice(("buy", "sell"))
        kind = self.rng.choice(_TRIGGER_KINDS[account.venue])
        mark = self.ledger.price(account.venue, market.symbol)
        away = self.rng.uniform(0.005, 0.03)
        # A buy stop triggers above the mark, a buy take-profit below; a sell the other way round.
        above = (side == "buy") == (kind != "take_profit")
        trigger = round_step(mark * (1 + away if above else 1 - away), market.tick)
        order_type: OrderType = "limit" if self.rng.random() < 0.5 else "market"
        price = round_step(trigger * (1.001 if side == "buy" else 0.999), market.tick)
        amount = self._amount(account, market, trigger, side)
        self.ledger.place_order(
            account,
            market.symbol,
            side,
            order_type,
            amount,
            price if order_type == "limit" else None,
            self._client_id(account),
            self._leverage(market),
            trigger=(kind, trigger),
            protection_price=self._protection(account, market, side, trigger),
        )
        return True

    def trigger_or_cancel(self, account: SimAccount) -> bool:
        """A resting conditional order is either canceled or triggered (a market one then fills)."""
        orders = [o for o in self.ledger.open_orders(account) if o.resting_untriggered]
        if not orders:
            return False
        order = self.rng.choice(orders)
        if self.rng.random() < 0.4:
            self.ledger.cancel(account, order)
            return True
        self.ledger.trigger(account, order)
        if order.order_type == "market":
            return self._sweep(account, order, self.ledger.price(account.venue, order.symbol))
        return True

    def transfer(self, account: SimAccount) -> bool:
        """Funds come in from, or go out to, another wallet or sub-account of the same owner."""
        if "transfer_in" not in reasons(account.venue):
            return False
        currency = self._cash_currency(account)
        if self.rng.random() < 0.5:
            amount = max(account.balances[currency].total, 1.0) * self.rng.uniform(0.005, 0.02)
        else:
            amount = -self._free(account, currency) * self.rng.uniform(0.005, 0.02)
        if round(amount, 4) == 0:
            return False
        self.ledger.transfer(account, currency, amount)
        return True

    def credit(self, account: SimAccount) -> bool:
        """A fee rebate, borrow interest or a balance adjustment, where the venue books them."""
        kinds = [r for r in _CREDITS if r in reasons(account.venue)]
        if not kinds:
            return False
        reason = self.rng.choice(kinds)
        currency = self._cash_currency(account)
        size = self.rng.uniform(0.5, 5.0)
        amount = -min(size, self._free(account, currency) / 2) if reason == "interest" else size
        if round(amount, 4) == 0:
            return False
        self.ledger.book(account, currency, amount, reason)
        return True

    def _cash_currency(self, account: SimAccount) -> str:
        """The account's margin or quote currency (USDT, USDC, USD or EUR): what cash moves in."""
        return self.rng.choice([c for c in sorted(account.balances) if c in _CASH])

    def liquidate(self, account: SimAccount) -> bool:
        """The venue closes a position: Hyperliquid liquidates, Bybit takes over (bust) or ADLs."""
        if not account.positions or account.venue == "kraken":
            return False
        pos = account.positions[self.rng.choice(sorted(account.positions))]
        market = self.ledger.market(account, pos.symbol)
        kind: ExecKind = "liquidation"
        if account.venue == "bybit":
            kind = "adl" if self.rng.random() < 0.5 else "bust"
        price = pos.mark_price if kind == "adl" else pos.liquidation_price
        self.ledger.liquidate(account, pos.symbol, kind, round_step(price, market.tick))
        return True
