"""The scenario's repertoire: each action picks its details from the engine's seeded RNG and asks
the ledger to apply them, so a seed replays to the same world.

Every action returns whether it did anything (an account with no open order cannot cancel), and
keeps the account solvent: sizes are small against free funds and fills that a venue would refuse
for lack of funds are not attempted.
"""

from __future__ import annotations

import math
import random

from fullon_account_service.simulator.accounting import fee_rate
from fullon_account_service.simulator.ledger import Ledger
from fullon_account_service.simulator.ledger_kinds import withdrawal_fee
from fullon_account_service.simulator.model import (
    Market,
    OrderSide,
    SimAccount,
    SimOrder,
)

MAX_OPEN_ORDERS = 6
_PROTECTION = 0.05
"""How far from the mark a market order's protection (slippage) price sits."""
_BUILDER_FEE_RATE = 0.0001


def _decimals(step: float) -> int:
    return max(0, -math.floor(math.log10(step)) + (0 if math.log10(step).is_integer() else 1))


def round_step(value: float, step: float) -> float:
    return round(round(value / step) * step, _decimals(step) + 2)


class Actions:
    def __init__(self, ledger: Ledger, rng: random.Random) -> None:
        self.ledger = ledger
        self.rng = rng
        self._cloid = 0

    # -- helpers --------------------------------------------------------------------------------
    def _markets(self, account: SimAccount) -> list[Market]:
        return self.ledger.world.markets[account.venue]

    def _free(self, account: SimAccount, currency: str) -> float:
        balance = account.balances.get(currency)
        return balance.free if balance else 0.0

    def _quote_budget(self, account: SimAccount, market: Market) -> float:
        return self._free(account, market.settle or market.quote)

    def _amount(self, account: SimAccount, market: Market, price: float, side: OrderSide) -> float:
        """Between 0.5 % and 3 % of the free funds the order would draw on."""
        share = self.rng.uniform(0.005, 0.03)
        if market.kind == "spot" and side == "sell":
            raw = self._free(account, market.base) * share
        else:
            leverage = 1.0 if market.kind == "spot" else 3.0
            raw = self._quote_budget(account, market) * share * leverage / price
        return max(round_step(raw, market.lot), market.lot)

    def _client_id(self, account: SimAccount) -> str | None:
        if self.rng.random() < 0.5:
            return None
        self._cloid += 1
        digits = f"{self.rng.getrandbits(128):032x}"
        if account.venue == "hyperliquid":
            return "0x" + digits
        if account.venue == "kraken":
            return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
        return f"sim-{self._cloid}"

    def _leverage(self, market: Market) -> float | None:
        if market.kind == "spot":
            return None
        return float(self.rng.randint(2, min(20, market.max_leverage)))

    def _protection(self, account: SimAccount, market: Market, side: OrderSide, mark: float) -> float | None:
        """Bybit's protection limit / Hyperliquid's slippage price; Kraken sends none."""
        if account.venue == "kraken":
            return None
        return round_step(mark * (1 + _PROTECTION if side == "buy" else 1 - _PROTECTION), market.tick)

    def _builder_fee_rate(self, account: SimAccount, market: Market) -> float:
        if account.venue != "hyperliquid" or market.kind != "swap":
            return 0.0
        return _BUILDER_FEE_RATE if self.rng.random() < 0.3 else 0.0

    def _fill_ok(self, account: SimAccount, order: SimOrder, amount: float, price: float, fib: bool) -> bool:
        """Would the fill keep every balance's free amount non-negative?"""
        market = self.ledger.market(account, order.symbol)
        rate = fee_rate(account.venue, market.kind, taker=True)
        cost = amount * price
        if market.kind == "spot":
            if order.side == "sell":
                return not fib or self._free(account, market.base) >= amount * rate * 1.01
            locked = (order.price or 0.0) * amount
            return fib or self._free(account, market.quote) + locked >= cost * (1 + rate) * 1.01
        pos = account.positions.get(order.symbol)
        reducing = pos is not None and (pos.contracts > 0) != (order.side == "buy")
        need = cost * rate
        if reducing and pos is not None:
            need += max(0.0, (pos.entry_price - price) * (1 if pos.contracts > 0 else -1) * amount)
        else:
            need += cost / (order.leverage or 1.0)
        return self._free(account, str(market.settle)) >= need * 1.05

    def _fill(self, account: SimAccount, order: SimOrder, amount: float, price: float, taker: bool) -> bool:
        market = self.ledger.market(account, order.symbol)
        if account.venue == "bybit" and market.kind == "spot":
            fib = order.side == "buy"
        else:
            fib = market.kind == "spot" and self.rng.random() < 0.3
        if order.fee_currency is not None:
            fib = order.fee_currency == market.base
        if not self._fill_ok(account, order, amount, price, fib):
            return False
        self.ledger.fill(account, order, amount, price, taker=taker, fee_in_base=fib)
        return True

    # -- actions --------------------------------------------------------------------------------
    def place_limit(self, account: SimAccount) -> bool:
        if len(self.ledger.open_orders(account)) >= MAX_OPEN_ORDERS:
            return False
        market = self.rng.choice(self._markets(account))
        side: OrderSide = self.rng.choice(("buy", "sell"))
        mark = self.ledger.price(account.venue, market.symbol)
        offset = self.rng.uniform(0.001, 0.02) * (-1 if side == "buy" else 1)
        price = round_step(mark * (1 + offset), market.tick)
        amount = self._amount(account, market, price, side)
        self.ledger.place_order(
            account,
            market.symbol,
            side,
            "limit",
            amount,
            price,
            self._client_id(account),
            self._leverage(market),
        )
        return True

    def place_market(self, account: SimAccount) -> bool:
        market = self.rng.choice(self._markets(account))
        side: OrderSide = self.rng.choice(("buy", "sell"))
        mark = self.ledger.price(account.venue, market.symbol)
        amount = self._amount(account, market, mark, side)
        order = self.ledger.place_order(
            account,
            market.symbol,
            side,
            "market",
            amount,
            None,
            self._client_id(account),
            self._leverage(market),
            protection_price=self._protection(account, market, side, mark),
            builder_fee_rate=self._builder_fee_rate(account, market),
        )
        return self._sweep(account, order, mark)

    def _sweep(self, account: SimAccount, order: SimOrder, mark: float) -> bool:
        """Fill a market order at once in one to three taker fills around the mark."""
        if order.status != "open":
            return True
        market = self.ledger.market(account, order.symbol)
        pieces = self.rng.randint(1, 3)
        for i in range(pieces):
            amount = order.remaining if i == pieces - 1 else round_step(order.remaining / 2, market.lot)
            if amount <= 0 or amount > order.remaining:
                continue
            slip = self.rng.uniform(0, 0.001) * (1 if order.side == "buy" else -1)
            if not self._fill(account, order, amount, round_step(mark * (1 + slip), market.tick), True):
                break
        if order.status == "open":
            self.ledger.cancel(account, order)
        return True

    def progress(self, account: SimAccount) -> bool:
        """Fill part (sometimes all) of a resting limit order as maker."""
        orders = [
            o
            for o in self.ledger.open_orders(account)
            if o.order_type == "limit" and not o.resting_untriggered
        ]
        if not orders:
            return False
        order = self.rng.choice(orders)
        market = self.ledger.market(account, order.symbol)
        part = round_step(order.remaining * self.rng.uniform(0.2, 0.7), market.lot)
        amount = order.remaining if part <= 0 or order.remaining - part < market.lot else part
        return self._fill(account, order, amount, float(order.price or 0.0), False)

    def cancel(self, account: SimAccount) -> bool:
        orders = self.ledger.open_orders(account)
        if not orders:
            return False
        self.ledger.cancel(account, self.rng.choice(orders))
        return True

    def reject(self, account: SimAccount) -> bool:
        """Either an oversized order the funds check refuses, or a post-only order that would cross."""
        market = self.rng.choice(self._markets(account))
        mark = self.ledger.price(account.venue, market.symbol)
        if self.rng.random() < 0.5:
            amount = max(round_step(self._quote_budget(account, market) * 100 / mark, market.lot), market.lot)
            self.ledger.place_order(
                account, market.symbol, "buy", "limit", amount, round_step(mark, market.tick)
            )
            return True
        if len(self.ledger.open_orders(account)) >= MAX_OPEN_ORDERS:
            return False
        price = round_step(mark * 1.001, market.tick)
        order = self.ledger.place_order(
            account, market.symbol, "buy", "limit", market.lot, price, leverage=self._leverage(market)
        )
        if order.status == "open":
            self.ledger.reject(account, order)
        return True

    def deposit(self, account: SimAccount) -> bool:
        currency = self.rng.choice(sorted(account.balances))
        total = account.balances[currency].total
        amount = round(max(total, 1.0) * self.rng.uniform(0.01, 0.05), 8)
        self.ledger.deposit(account, currency, amount)
        return True

    def withdraw(self, account: SimAccount) -> bool:
        currency = self.rng.choice(sorted(account.balances))
        free = self._free(account, currency)
        amount = round(free * self.rng.uniform(0.005, 0.03), 8)
        if amount <= 0 or amount + withdrawal_fee(account.venue, currency, amount) > free:
            return False
        self.ledger.withdraw(account, currency, amount)
        return True

    def move_price(self, account: SimAccount) -> bool:
        """A random walk pulled back toward the catalog price so long runs stay sane."""
        market = self.rng.choice(self._markets(account))
        current = self.ledger.price(account.venue, market.symbol)
        pull = (market.price - current) / market.price * 0.05
        price = round_step(current * (1 + self.rng.gauss(0, 0.003) + pull), market.tick)
        self.ledger.set_price(account.venue, market.symbol, max(price, market.tick))
        return True

    def reduce_or_flip(self, account: SimAccount) -> bool:
        """Market order against a perp position: a partial close, a full close or a flip."""
        if not account.positions:
            return False
        pos = account.positions[self.rng.choice(sorted(account.positions))]
        market = self.ledger.market(account, pos.symbol)
        size = abs(pos.contracts)
        kind = self.rng.random()
        if kind < 0.5:
            amount = max(round_step(size * self.rng.uniform(0.2, 0.8), market.lot), market.lot)
            amount = min(amount, size)
        elif kind < 0.75:
            amount = size
        else:
            amount = size + self._amount(account, market, pos.mark_price, "buy")
        side: OrderSide = "sell" if pos.contracts > 0 else "buy"
        mark = self.ledger.price(account.venue, pos.symbol)
        order = self.ledger.place_order(
            account,
            pos.symbol,
            side,
            "market",
            amount,
            None,
            self._client_id(account),
            None,
            amount <= size,
            protection_price=self._protection(account, market, side, mark),
            builder_fee_rate=self._builder_fee_rate(account, market),
        )
        return self._sweep(account, order, mark)
