"""The simulator's world: markets, accounts and what happened in them.

This is the ground truth. The scenario engine (``ledger``) is the only writer; the venue
renderers only read it and listen to its ``Change`` notifications to push WebSocket messages.
Symbols are ccxt's unified symbols (``BTC/USD``, ``BTC/USDT:USDT``, ``BTC/USDC:USDC``);
each venue maps them to its own wire ids through ``Market.venue_id``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from fullon_account_service.simulator.signers import SignerLog
from fullon_account_service.simulator.stats import FaultCounts, SubscriptionBoard

MarketKind = Literal["spot", "swap"]
OrderSide = Literal["buy", "sell"]
OrderType = Literal["limit", "market"]
TriggerKind = Literal["stop", "take_profit", "trailing_stop"]
ExecKind = Literal["liquidation", "bust", "adl"]
SimOrderStatus = Literal["open", "closed", "canceled", "rejected"]
LedgerReason = Literal[
    "funding",
    "deposit",
    "withdrawal",
    "transfer_in",
    "transfer_out",
    "rebate",
    "liquidation",
    "interest",
    "adjustment",
    "other",
]


@dataclass(frozen=True, slots=True)
class Market:
    symbol: str
    base: str
    quote: str
    kind: MarketKind
    venue_id: str
    price: float
    tick: float
    lot: float
    settle: str | None = None
    max_leverage: int = 1


@dataclass(slots=True)
class SimOrder:
    order_id: str
    symbol: str
    side: OrderSide
    order_type: OrderType
    amount: float
    created_ms: int
    updated_ms: int
    price: float | None = None
    client_order_id: str | None = None
    filled: float = 0.0
    cost: float = 0.0
    fee: float = 0.0
    fee_currency: str | None = None
    status: SimOrderStatus = "open"
    leverage: float | None = None
    reduce_only: bool = False
    trigger_kind: TriggerKind | None = None
    """A conditional order (stop, take-profit, trailing stop): it rests untriggered, locking
    nothing, until ``triggered``; then it works as ``order_type`` (market or limit)."""
    trigger_price: float | None = None
    triggered: bool = False
    protection_price: float | None = None
    """A market order's worst acceptable price (Bybit's protection limit, Hyperliquid's slippage
    ``limitPx``), fixed when it is placed."""
    builder_fee_rate: float = 0.0
    """Hyperliquid builder-code fee on top of the venue's fee (share of the fill's cost)."""
    venue_initiated: ExecKind | None = None
    """Set on the order the venue creates to liquidate, take over or deleverage a position."""

    @property
    def resting_untriggered(self) -> bool:
        return self.trigger_kind is not None and not self.triggered

    @property
    def remaining(self) -> float:
        return max(self.amount - self.filled, 0.0)

    @property
    def average(self) -> float | None:
        return self.cost / self.filled if self.filled > 0 else None


@dataclass(frozen=True, slots=True)
class SimFill:
    trade_id: str
    order_id: str
    symbol: str
    side: OrderSide
    price: float
    amount: float
    cost: float
    fee: float
    fee_currency: str
    taker: bool
    ts_ms: int
    leverage: float | None = None
    exec_kind: ExecKind | None = None
    builder_fee: float = 0.0
    """Part of ``fee`` paid to a Hyperliquid builder (``fee`` is the total, as the venue reports it)."""


@dataclass(frozen=True, slots=True)
class FundingTerms:
    """What a funding payment was computed from: the position (side, size) at ``mark_price`` and
    the interval's ``rate`` (longs pay a positive rate)."""

    side: OrderSide
    size: float
    mark_price: float
    rate: float


@dataclass(frozen=True, slots=True)
class LiquidationTerms:
    """The liquidation fill a ``liquidation`` ledger row stands beside: the venue's closing
    order and execution, its side, size, price, the realised ``cash_flow`` and the ``fee`` (the
    fill moved the balance by ``cash_flow - fee``; the row itself moves nothing)."""

    order_id: str
    exec_id: str
    side: OrderSide
    size: float
    price: float
    cash_flow: float
    fee: float


@dataclass(frozen=True, slots=True)
class SimLedgerEntry:
    """One balance change that is not a fill: funding, a deposit, a withdrawal, a transfer, ...

    ``amount`` is signed from the account's side (paid or sent is negative) and excludes ``fee``,
    charged on top in the same currency: the balance moves by ``amount - fee`` and is then
    ``balance_after``. ``raw_type`` is the venue's own word for the kind; ``symbol`` is set on
    funding payments and liquidations, ``funding`` on funding payments only. A ``liquidation``
    entry is the venue's ledger row of a liquidation fill (``liquidation``): its amount is 0, the
    fill moved the balance.
    """

    entry_id: str
    currency: str
    amount: float
    reason: LedgerReason
    raw_type: str
    ts_ms: int
    balance_after: float
    symbol: str | None = None
    fee: float = 0.0
    funding: FundingTerms | None = None
    liquidation: LiquidationTerms | None = None
    requested_ms: int | None = None
    """A deposit or withdrawal that waited (``SimTransfer``): when it was asked for; ``ts_ms`` is
    when it completed and moved the balance."""

    @property
    def fee_currency(self) -> str | None:
        return self.currency if self.fee else None


TransferState = Literal["pending", "failed"]


@dataclass(slots=True)
class SimTransfer:
    """A deposit or withdrawal the venue lists before it moves the balance (Bybit's asset records
    show it pending). It moves nothing until it completes, when it becomes a ``SimLedgerEntry``
    under the same id (and leaves ``SimAccount.transfers``); a failed one never moves the balance
    and stays listed as failed. ``amount`` is unsigned; ``fee`` is a withdrawal's, charged on
    completion."""

    transfer_id: str
    reason: LedgerReason
    currency: str
    amount: float
    requested_ms: int
    fee: float = 0.0
    state: TransferState = "pending"
    settled_ms: int | None = None


@dataclass(slots=True)
class SimBalance:
    total: float
    used: float = 0.0

    @property
    def free(self) -> float:
        return self.total - self.used


@dataclass(slots=True)
class SimPosition:
    """A one-way (net) position: ``contracts`` > 0 is long, < 0 short, 0 flat."""

    symbol: str
    contracts: float
    entry_price: float
    leverage: float
    mark_price: float
    updated_ms: int
    isolated: bool = False

    @property
    def side(self) -> Literal["long", "short"]:
        return "long" if self.contracts > 0 else "short"

    @property
    def unrealized_pnl(self) -> float:
        return (self.mark_price - self.entry_price) * self.contracts

    @property
    def margin(self) -> float:
        return abs(self.contracts) * self.entry_price / self.leverage

    @property
    def liquidation_price(self) -> float:
        move = self.entry_price / self.leverage
        return self.entry_price - move * 0.9 if self.contracts > 0 else self.entry_price + move * 0.9


@dataclass(frozen=True, slots=True)
class OrderChanged:
    order: SimOrder


@dataclass(frozen=True, slots=True)
class FillAdded:
    fill: SimFill


@dataclass(frozen=True, slots=True)
class LedgerAdded:
    entry: SimLedgerEntry


@dataclass(frozen=True, slots=True)
class BalancesChanged:
    currencies: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PositionChanged:
    symbol: str


Change = OrderChanged | FillAdded | LedgerAdded | BalancesChanged | PositionChanged
Listener = Callable[["SimAccount", Change], None]


@dataclass(slots=True)
class SimAccount:
    venue: str
    index: int
    api_key: str
    secret: str
    wallet_address: str | None = None
    balances: dict[str, SimBalance] = field(default_factory=dict)
    orders: dict[str, SimOrder] = field(default_factory=dict)
    fills: list[SimFill] = field(default_factory=list)
    ledger: list[SimLedgerEntry] = field(default_factory=list)
    """Balance changes that are not fills (funding, deposits, transfers, ...), in time order."""
    transfers: list[SimTransfer] = field(default_factory=list)
    """Deposits and withdrawals asked for but not booked: pending, or failed."""
    positions: dict[str, SimPosition] = field(default_factory=dict)
    listeners: list[Listener] = field(default_factory=list)
    leverage: dict[str, float] = field(default_factory=dict)
    """Leverage setting per contract symbol: like the venues, one per symbol, kept after a close."""
    isolated: set[str] = field(default_factory=set)
    """Contract symbols traded in isolated margin (Hyperliquid)."""
    spot: dict[str, SimBalance] = field(default_factory=dict)
    """Hyperliquid's spot wallet (``spotClearinghouseState``), apart from the perp account."""

    def held(self) -> dict[str, SimBalance]:
        """What the account holds per currency across its wallets (perp/unified + spot)."""
        merged: dict[str, SimBalance] = {}
        for wallet in (self.balances, self.spot):
            for cur, b in wallet.items():
                held = merged.setdefault(cur, SimBalance(0.0))
                held.total += b.total
                held.used += b.used
        return merged

    def emit(self, change: Change) -> None:
        for listener in list(self.listeners):
            listener(self, change)


@dataclass(slots=True)
class Faults:
    """What goes wrong on purpose; changed at run time through the control endpoint.

    Probabilities are per message or per request, drawn from the world's seeded RNG.
    """

    ws_drop_every_s: float | None = None
    ws_drop_probability: float = 0.0
    refuse_connections_until_ms: int = 0
    rate_limit_probability: float = 0.0
    rate_limit_retry_after_s: float = 1.0
    server_error_probability: float = 0.0
    slow_response_ms: int = 0
    malformed_frame_probability: float = 0.0
    truncated_frame_probability: float = 0.0
    duplicate_probability: float = 0.0
    reorder_probability: float = 0.0
    rest_only_fill_probability: float = 0.0
    early_order_update_probability: float = 0.0


@dataclass(slots=True)
class World:
    """Everything the simulator knows: shared by the ledger, the venues and the control endpoint.

    ``now_ms`` is the simulator's clock (wall time by default, injectable for tests).
    """

    markets: dict[str, list[Market]]
    accounts: list[SimAccount]
    faults: Faults
    now_ms: Callable[[], int]
    seed: int = 0
    """Scenario seed: every derived RNG (ids, faults) starts from it so runs repeat exactly."""
    fault_counts: FaultCounts = field(default_factory=FaultCounts)
    """Faults actually injected, per venue and kind."""
    subscriptions: SubscriptionBoard = field(default_factory=SubscriptionBoard)
    """Private channels each account's sockets subscribed to, and since when."""
    signers: SignerLog = field(default_factory=SignerLog)
    """Which client signed each API key's private requests, run by run."""
    _by_venue: dict[str, list[SimAccount]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _by_key: dict[tuple[str, str], SimAccount] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _indexed: int = field(default=-1, init=False, repr=False, compare=False)
    """How many of ``accounts`` the two indexes above hold. Accounts are only ever appended (the
    scenario builds them, a test may add one), so a new count means the indexes are rebuilt: at
    1,000 accounts a scan per price move and per authenticated request held the simulator's loop."""

    def _index(self) -> None:
        if self._indexed == len(self.accounts):
            return
        self._by_venue, self._by_key = {}, {}
        for account in self.accounts:
            self._by_venue.setdefault(account.venue, []).append(account)
            self._by_key.setdefault((account.venue, account.api_key), account)
        self._indexed = len(self.accounts)

    def accounts_of(self, venue: str) -> list[SimAccount]:
        self._index()
        return list(self._by_venue.get(venue, ()))

    def market(self, venue: str, symbol: str) -> Market:
        for m in self.markets[venue]:
            if m.symbol == symbol:
                return m
        raise KeyError(f"{venue} has no market {symbol}")

    def account_by_key(self, venue: str, api_key: str) -> SimAccount | None:
        self._index()
        return self._by_key.get((venue, api_key))

    def account_by_wallet(self, venue: str, address: str) -> SimAccount | None:
        wanted = address.lower()
        return next(
            (a for a in self.accounts_of(venue) if a.wallet_address and a.wallet_address.lower() == wanted),
            None,
        )
