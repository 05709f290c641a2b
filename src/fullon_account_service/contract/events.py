"""The event contract: every fact a producer publishes and a sink consumes.

One module, frozen msgspec Structs, one tagged union. The bus never sees a dict: a producer
builds an ``Envelope`` and the codec turns it into bytes; a sink gets the ``Envelope`` back or a
``ContractError`` naming what was wrong.

Compatible changes: a consumer ignores fields it does not know, so a producer may add an optional
field (with a default) before its sinks are upgraded. Such an additive change bumps the minor
version; a change an older consumer would misread (a field removed, renamed or retyped, a new enum
value, a new meaning) bumps the major version, and a consumer rejects any event of a newer major.
``v`` carries both as ``major * 1000 + minor``; the first schema predates minors and is written
``1``, so a ``v`` below 1000 is read as a major with minor 0 (``schema_major``).

Numbers are floats in the exchange's own units. ``None`` means *unknown* (the venue did not say);
it is never silently replaced by zero, so a sink can tell "zero" from "not reported".
Quantities (``Amount``) are finite and non-negative; signed values (``Signed``) are finite.
NaN and infinities are rejected by the bounds below: NaN fails every comparison.
"""

from __future__ import annotations

import enum
from typing import Annotated

import msgspec

SCHEMA_MAJOR = 1
SCHEMA_MINOR = 0
SCHEMA_VERSION = SCHEMA_MAJOR if SCHEMA_MINOR == 0 else SCHEMA_MAJOR * 1000 + SCHEMA_MINOR
"""What this producer writes in ``v``: unchanged from the first schema until a minor is added. The
``ledger`` kind came without one: it has its own stream, which no older sink reads, and consumers
that accept ``v`` 1 only must keep reading the other streams."""

_LIMIT = 1e300
Amount = Annotated[float, msgspec.Meta(ge=0.0, le=_LIMIT)]
Signed = Annotated[float, msgspec.Meta(ge=-_LIMIT, le=_LIMIT)]
Leverage = Annotated[float, msgspec.Meta(gt=0.0, le=1e6)]
TimestampMs = Annotated[int, msgspec.Meta(ge=0)]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Currency = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"

    @property
    def is_terminal(self) -> bool:
        return self is not OrderStatus.OPEN


class PositionSide(enum.StrEnum):
    LONG = "long"
    SHORT = "short"
    FLAT = "flat"


class Liquidity(enum.StrEnum):
    TAKER = "taker"
    MAKER = "maker"


class ExecKind(enum.StrEnum):
    """What kind of execution a fill is, where the venue says (``None``: an ordinary trade or not said).

    ``liquidation``: the venue closed the position (Hyperliquid ``liquidation``, Bybit ``BustTrade``
    is ``bust``: the position taken over at its bankruptcy price); ``adl``: closed by
    auto-deleveraging (Bybit ``AdlTrade``); ``settlement``: a delivery/settlement (Bybit ``Settle``).
    Funding is never a fill.
    """

    TRADE = "trade"
    LIQUIDATION = "liquidation"
    BUST = "bust"
    ADL = "adl"
    SETTLEMENT = "settlement"


ORDER_TYPES: tuple[str, ...] = (
    "limit",
    "market",
    "stop",
    "stop_limit",
    "take_profit",
    "take_profit_limit",
    "trailing_stop",
    "trailing_stop_limit",
    "unknown",
)
"""The ``order_type`` values producers publish (see docs/fields.md); ``unknown`` when no channel
has said. Trigger orders (stop, take-profit, trailing) carry ``trigger_price`` when the venue sends it."""


class LedgerReason(enum.StrEnum):
    """Why a balance moved without a fill; ``OTHER`` keeps the venue's own word in ``raw_type``."""

    FUNDING = "funding"
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    TRANSFER_IN = "transfer_in"
    TRANSFER_OUT = "transfer_out"
    REBATE = "rebate"
    LIQUIDATION = "liquidation"
    INTEREST = "interest"
    ADJUSTMENT = "adjustment"
    OTHER = "other"


class Source(enum.StrEnum):
    WS = "ws"
    REST = "rest"
    RECONCILE = "reconcile"


# gc=False: events never form reference cycles, and untracked instances halve the cost of decoding
# a batch in a process with a large heap (bench/RESULTS.md).
class _Payload(msgspec.Struct, frozen=True, tag_field="kind", gc=False):
    """Base of every payload: the ``kind`` tag selects the stream and the handler."""


class CurrencyBalance(msgspec.Struct, frozen=True, gc=False):
    total: Amount | None = None
    free: Amount | None = None
    used: Amount | None = None


class BalanceSnapshot(_Payload, frozen=True, tag="balance"):
    """Balances per currency code.

    ``partial`` marks an update that carries only the currencies that changed: a sink merges it
    into the stored account instead of replacing the whole account.
    """

    balances: dict[Currency, CurrencyBalance]
    partial: bool = False


class OrderUpdate(_Payload, frozen=True, tag="order"):
    ex_order_id: Text
    symbol: Text
    side: Side
    order_type: Text
    status: OrderStatus
    client_order_id: Text | None = None
    price: Amount | None = None
    volume: Amount | None = None
    filled: Amount | None = None
    remaining: Amount | None = None
    average: Amount | None = None
    fee: Amount | None = None
    fee_currency: Currency | None = None
    leverage: Leverage | None = None
    reduce_only: bool | None = None
    created_ms: TimestampMs | None = None
    updated_ms: TimestampMs | None = None
    trigger_price: Amount | None = None
    """Price that triggers a stop / take-profit / trailing order (``None`` for plain orders)."""
    protection_price: Amount | None = None
    """A market order's worst acceptable price (Bybit's protection limit, Hyperliquid's slippage
    ``limitPx``): not a price the order traded at, so never in ``price``."""


class Position(msgspec.Struct, frozen=True, gc=False):
    symbol: Text
    side: PositionSide
    volume: Amount
    entry_price: Amount | None = None
    mark_price: Amount | None = None
    leverage: Leverage | None = None
    unrealized_pnl: Signed | None = None
    liquidation_price: Amount | None = None
    margin: Amount | None = None
    margin_mode: Text | None = None
    """``cross`` or ``isolated`` where the venue says."""


class PositionSnapshot(_Payload, frozen=True, tag="position"):
    """Open positions of one account.

    A complete snapshot (``partial=False``) lists every open position: a symbol missing from it is
    closed. A partial one carries only changed symbols; a ``FLAT`` entry closes that symbol.
    """

    positions: list[Position]
    partial: bool = False


class TradeFill(_Payload, frozen=True, tag="trade"):
    ex_trade_id: Text
    ex_order_id: Text
    symbol: Text
    side: Side
    price: Amount
    volume: Amount
    cost: Amount
    time_ms: TimestampMs
    fee: Amount | None = None
    fee_currency: Currency | None = None
    liquidity: Liquidity | None = None
    leverage: Leverage | None = None
    order_type: Text | None = None
    exec_kind: ExecKind | None = None
    """Liquidation, bust, ADL or settlement fills say so; ``None`` for an ordinary trade."""


class LedgerEntry(_Payload, frozen=True, tag="ledger"):
    """One balance change that is not a fill: funding, a deposit, a withdrawal, a transfer, a
    rebate, a liquidation charge, interest or an adjustment.

    ``amount`` is signed from the account's side (a funding paid or a withdrawal is negative) and
    excludes ``fee``, which is charged on top in ``fee_currency`` (the entry's ``currency`` when
    that is ``None``): the balance moves by ``amount - fee``. ``balance_after`` is the venue's
    balance of ``currency`` after the entry, where the venue reports it. ``symbol`` names the
    market for funding and liquidations; ``raw_type`` keeps the venue's own type word.
    """

    ex_ledger_id: Text
    currency: Currency
    amount: Signed
    reason: LedgerReason
    time_ms: TimestampMs
    raw_type: Text | None = None
    symbol: Text | None = None
    balance_after: Signed | None = None
    fee: Amount | None = None
    fee_currency: Currency | None = None


Payload = BalanceSnapshot | OrderUpdate | PositionSnapshot | TradeFill | LedgerEntry


class Envelope(msgspec.Struct, frozen=True, gc=False):
    """Who, where, when and which fact: the part every event kind shares.

    ``event_id`` is derived from the fact itself (see ``contract.ids``), so the same fill seen over
    WebSocket and over REST carries the same id; sinks store it for tracing and drop the second
    copy by the fact's own keys (see ``bus.consumer``).
    """

    event_id: Annotated[str, msgspec.Meta(min_length=8, max_length=64)]
    ex_id: Annotated[int, msgspec.Meta(ge=0)]
    uid: Annotated[int, msgspec.Meta(ge=0)]
    exchange: Text
    source: Source
    received_ms: TimestampMs
    payload: Payload
    exchange_ms: TimestampMs | None = None
    v: Annotated[int, msgspec.Meta(ge=1)] = SCHEMA_VERSION

    @property
    def kind(self) -> str:
        return KIND_OF[type(self.payload)]


def schema_major(v: int) -> int:
    """The major version of a wire ``v``: ``major * 1000 + minor``, or a bare major below 1000."""
    return v // 1000 if v >= 1000 else v


KIND_OF: dict[type[msgspec.Struct], str] = {
    BalanceSnapshot: "balance",
    OrderUpdate: "order",
    PositionSnapshot: "position",
    TradeFill: "trade",
    LedgerEntry: "ledger",
}
KINDS: tuple[str, ...] = tuple(KIND_OF.values())
