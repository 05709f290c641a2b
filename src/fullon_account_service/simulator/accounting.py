"""Pure balance and position arithmetic behind the ``Ledger`` (no events, no ids, no clock).

Kept apart so the rules (fees, locks, margin, pnl on partial closes and flips) can be read and
tested on their own; the ledger decides when they run and what to announce.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Literal

from fullon_account_service.simulator.model import (
    Market,
    MarketKind,
    OrderSide,
    SimAccount,
    SimBalance,
    SimOrder,
    SimPosition,
)

FinalStatus = Literal["canceled", "rejected"]

# (maker, taker) fee rates per venue and market kind, as the venues' base tiers.
FEE_RATES: dict[tuple[str, MarketKind], tuple[float, float]] = {
    ("kraken", "spot"): (0.0016, 0.0026),
    ("bybit", "spot"): (0.001, 0.001),
    ("bybit", "swap"): (0.0002, 0.00055),
    ("hyperliquid", "swap"): (0.0001, 0.00035),
}

_DECIMALS = 10
_SLIPPAGE = 1.02


_FIAT = frozenset({"USD", "EUR"})


def fee_decimals(venue: str, currency: str) -> int | None:
    """Decimals a venue charges fees in (Kraken: cents and a hundredth for fiat, 8 for coins);
    ``None``: charged unrounded."""
    if venue != "kraken":
        return None
    return 4 if currency in _FIAT else 8


def fee_rate(venue: str, kind: MarketKind, *, taker: bool) -> float:
    maker_rate, taker_rate = FEE_RATES.get((venue, kind), (0.001, 0.001))
    return taker_rate if taker else maker_rate


def default_leverage(market: Market) -> float:
    return float(min(10, market.max_leverage))


def adjust(account: SimAccount, currency: str, delta: float) -> None:
    balance = account.balances.get(currency)
    if balance is None:
        balance = account.balances[currency] = SimBalance(0.0)
    balance.total = round(balance.total + delta, _DECIMALS)


def snapshot(account: SimAccount) -> dict[str, tuple[float, float]]:
    return {cur: (b.total, b.used) for cur, b in account.balances.items()}


def changed_currencies(account: SimAccount, before: Mapping[str, tuple[float, float]]) -> tuple[str, ...]:
    return tuple(sorted(cur for cur, b in account.balances.items() if before.get(cur) != (b.total, b.used)))


def affordable(account: SimAccount, market: Market, order: SimOrder, reference_price: float) -> bool:
    """Whether free funds cover the order at ``reference_price`` including a taker fee (and a
    little slippage for market orders), as a venue's pre-trade check would."""
    rate = max(fee_rate(account.venue, market.kind, taker=True), 0.0)
    price = reference_price * (_SLIPPAGE if order.order_type == "market" else 1.0)

    def free(currency: str) -> float:
        balance = account.balances.get(currency)
        return balance.free if balance else 0.0

    if market.kind == "spot":
        if order.side == "buy":
            return free(market.quote) >= order.amount * price * (1 + rate)
        return free(market.base) >= order.amount * (1 + rate)
    if order.reduce_only:
        return True
    notional = order.amount * price
    return free(str(market.settle)) >= notional / (order.leverage or 1.0) + notional * rate


def recompute_used(
    account: SimAccount, markets: Mapping[tuple[str, str], Market], open_orders: Iterable[SimOrder]
) -> None:
    """``used`` from scratch: order locks plus position margin, so it never drifts."""
    used: dict[str, float] = defaultdict(float)
    for order in open_orders:
        market = markets[(account.venue, order.symbol)]
        if order.order_type != "limit" or order.price is None or order.resting_untriggered:
            continue
        if market.kind == "spot":
            if order.side == "buy":
                used[market.quote] += order.price * order.remaining
            else:
                used[market.base] += order.remaining
        elif not order.reduce_only:
            used[str(market.settle)] += order.price * order.remaining / (order.leverage or 1.0)
    for symbol, pos in account.positions.items():
        used[str(markets[(account.venue, symbol)].settle)] += pos.margin
    for currency in used:
        if currency not in account.balances:
            account.balances[currency] = SimBalance(0.0)
    for currency, balance in account.balances.items():
        balance.used = round(used.get(currency, 0.0), _DECIMALS)


def settle_spot(
    account: SimAccount,
    market: Market,
    side: OrderSide,
    amount: float,
    cost: float,
    rate: float,
    fee_in_base: bool,
) -> tuple[float, str]:
    """Move base and quote for a spot fill; returns (fee, fee currency)."""
    fee = amount * rate if fee_in_base else cost * rate
    digits = fee_decimals(account.venue, market.base if fee_in_base else market.quote)
    if digits is not None:
        fee = round(fee, digits)
    base_fee, quote_fee = (fee, 0.0) if fee_in_base else (0.0, fee)
    if side == "buy":
        adjust(account, market.base, amount - base_fee)
        adjust(account, market.quote, -cost - quote_fee)
    else:
        adjust(account, market.base, -amount - base_fee)
        adjust(account, market.quote, cost - quote_fee)
    return fee, market.base if fee_in_base else market.quote


def apply_to_position(
    account: SimAccount,
    market: Market,
    side: OrderSide,
    amount: float,
    price: float,
    leverage: float,
    marks: Mapping[tuple[str, str], float],
    ts_ms: int,
) -> float:
    """Net a perp fill into the one-way position; returns the realised pnl of the closed part."""
    delta = amount if side == "buy" else -amount
    mark = marks[(account.venue, market.symbol)]
    pos = account.positions.get(market.symbol)
    if pos is None:
        account.positions[market.symbol] = SimPosition(market.symbol, delta, price, leverage, mark, ts_ms)
        return 0.0
    pos.updated_ms = ts_ms
    pos.mark_price = mark
    if pos.contracts * delta > 0:
        size = abs(pos.contracts)
        pos.entry_price = (size * pos.entry_price + amount * price) / (size + amount)
        pos.contracts = round(pos.contracts + delta, _DECIMALS)
        return 0.0
    closed = min(amount, abs(pos.contracts))
    realised = (price - pos.entry_price) * closed * (1.0 if pos.contracts > 0 else -1.0)
    rest = round(amount - closed, _DECIMALS)
    if rest > 0:
        pos.contracts = rest if delta > 0 else -rest
        pos.entry_price = price
        pos.leverage = leverage
    else:
        pos.contracts = round(pos.contracts + delta, _DECIMALS)
        if pos.contracts == 0:
            del account.positions[market.symbol]
    return realised
