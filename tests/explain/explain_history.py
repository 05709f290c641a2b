"""A random account history made by the simulator's own ledger: the independent balances to explain.

The simulator books fills (spot cash, perp realised PnL at its average entry, fees), funding,
deposits and withdrawals with its own arithmetic (``simulator.accounting``); this helper replays a
list of actions through it on one Bybit account (spot and linear perps), takes a balance anchor
of every currency after each action, and returns what the service would store: the fills as
``Fill`` records, the simulator's ledger entries (funding, deposits, withdrawals with their fee,
transfers, rebates, interest, adjustments) as ``LedgerRecord`` rows, and the anchors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from fullon_account_service.ledger.entries import LedgerRecord
from fullon_account_service.ledger.explain import Anchor
from fullon_account_service.ledger.fills import Fill
from fullon_account_service.simulator.catalog import catalog
from fullon_account_service.simulator.ledger import Ledger
from fullon_account_service.simulator.model import Faults, LedgerReason, SimAccount, SimBalance, World

STEP_MS = 10_000
ANCHOR_AFTER_MS = 5_000
BAND_MS = 1_000
START = {"USDT": 10_000_000.0, "BTC": 100.0, "ETH": 1_000.0}

Kind = Literal["spot", "perp", "deposit", "withdraw", "transfer", "other", "funding", "liquidate", "price"]


@dataclass(frozen=True, slots=True)
class Action:
    kind: Kind
    symbol: str = "BTC/USDT:USDT"
    side: Literal["buy", "sell"] = "buy"
    amount: float = 0.01
    price: float = 60_000.0
    fee_in_base: bool = False
    currency: str = "USDT"


@dataclass(slots=True)
class History:
    fills: list[Fill] = field(default_factory=list)
    entries: list[LedgerRecord] = field(default_factory=list)
    anchors: dict[str, list[Anchor]] = field(default_factory=dict)


class _Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now


def _apply(ledger: Ledger, account: SimAccount, action: Action) -> None:
    free = account.balances[action.currency].free
    if action.kind in ("spot", "perp"):
        order = ledger.place_order(account, action.symbol, action.side, "market", action.amount)
        if order.status == "open":
            fib = action.fee_in_base
            ledger.fill(account, order, action.amount, action.price, taker=True, fee_in_base=fib)
    elif action.kind == "deposit":
        ledger.deposit(account, action.currency, action.amount)
    elif action.kind == "withdraw" and action.amount * 1.01 <= free:
        ledger.withdraw(account, action.currency, action.amount)
    elif action.kind == "transfer" and (action.side == "buy" or action.amount <= free):
        ledger.transfer(account, action.currency, action.amount if action.side == "buy" else -action.amount)
    elif action.kind == "other":
        reason: LedgerReason = "rebate" if action.side == "buy" else "interest"
        ledger.book(account, action.currency, action.amount, reason)
    elif action.kind == "funding" and action.symbol in account.positions:
        ledger.funding(account, action.symbol, 0.0001)
    elif action.kind == "liquidate" and action.symbol in account.positions:
        ledger.liquidate(account, action.symbol, "liquidation", action.price)
    elif action.kind == "price":
        ledger.set_price("bybit", action.symbol, action.price)


def simulate(actions: list[Action]) -> History:
    clock = _Clock()
    world = World(markets=catalog(), accounts=[], faults=Faults(), now_ms=clock)
    account = SimAccount("bybit", 0, "key", "secret", balances={c: SimBalance(t) for c, t in START.items()})
    world.accounts.append(account)
    ledger = Ledger(world)
    history = History()
    _anchor(account, history, clock.now)
    for action in actions:
        clock.now += STEP_MS
        _apply(ledger, account, action)
        _anchor(account, history, clock.now + ANCHOR_AFTER_MS)
    history.fills, history.entries = sim_fills(account), sim_entries(account)
    return history


def _anchor(account: SimAccount, history: History, time_ms: int) -> None:
    for currency, balance in account.balances.items():
        history.anchors.setdefault(currency, []).append(Anchor(time_ms, balance.total))


def sim_fills(account: SimAccount) -> list[Fill]:
    """The account's fills as the trades table gives them back."""
    return [
        Fill(
            ex_id=1,
            uid=1,
            exchange=account.venue,
            ex_trade_id=f.trade_id,
            ex_order_id=f.order_id,
            symbol=f.symbol,
            side=f.side,
            volume=f.amount,
            price=f.price,
            cost=f.cost,
            time_ms=f.ts_ms,
            fee=f.fee,
            fee_currency=f.fee_currency,
        )
        for f in account.fills
    ]


def sim_entries(account: SimAccount) -> list[LedgerRecord]:
    """The account's ledger entries as the ledger table gives them back."""
    return [
        LedgerRecord(
            ex_id=1,
            uid=1,
            exchange=account.venue,
            ex_ledger_id=e.entry_id,
            currency=e.currency,
            amount=e.amount,
            reason=e.reason,
            time_ms=e.ts_ms,
            fee=e.fee,
            fee_currency=e.fee_currency,
        )
        for e in account.ledger
    ]
