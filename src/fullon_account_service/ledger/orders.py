"""How versions of one order combine into one state: the rule, whatever the arrival order.

An order is seen many times, over WebSocket and REST, late and out of order. Whatever the arrival
order, the stored row must end up the same, so two versions are combined by a rule that does not
depend on which came first:

- ``filled`` is the maximum ever seen: it never goes down.
- Each version has a rank ``(terminal, updated_ms)``: a terminal status (closed, canceled, expired,
  rejected) outranks an open one whatever the times, so a stale "open" never reopens a finished
  order; between two open (or two terminal) versions the later ``updated_ms`` wins. A version
  without ``updated_ms`` counts as current (it wins a tie).
- The winner's fields replace the row's; a field the winner does not know (``None``) keeps the
  row's value, and a losing version only fills fields the row does not know yet.
- ``created_ms`` is the earliest seen; ``final_volume`` is ``filled`` once the status is terminal.
- ``bot_id`` and ``reason`` belong to whoever placed the order (a fullon bot writes them): a
  stored value is kept; the documented "unknown" values (``UNKNOWN_BOT_ID``, ``UNKNOWN``, written
  because fullon's schema requires a value) give way to a real one.
- ``order_type`` ``"unknown"`` (a stream that does not say, e.g. Hyperliquid ``orderUpdates``)
  counts as not known: it never replaces a known type, and a known type replaces it.

``merge`` applies the rule to two records (the orders repository folds duplicates inside one batch
with it, since one ``INSERT .. ON CONFLICT`` may not touch a row twice; ``verify`` folds bus
events with it); ``storage.db.order_upsert`` states the same rule in SQL for the stored row.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from fullon_account_service.contract.events import OrderUpdate
from fullon_account_service.ledger.conventions import TERMINAL_STATUSES, UNKNOWN, UNKNOWN_BOT_ID

KEY_FIELDS = ("ex_id", "ex_order_id")
OWNER_FIELDS = {"bot_id": UNKNOWN_BOT_ID, "reason": UNKNOWN}
"""Fields of the order's owner, with the value written when nobody said."""
UNKNOWN_TYPE = UNKNOWN
VERSIONED_FIELDS = (
    "uid",
    "cat_ex_id",
    "exchange",
    "symbol",
    "order_type",
    "side",
    "volume",
    "price",
    "plimit",
    "futures",
    "leverage",
    "command",
    "client_order_id",
    "remaining",
    "average",
    "fee",
    "fee_currency",
    "reduce_only",
    "event_id",
    "trigger_price",
)


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """One version of an order, as the ORM sink hands it to ``OrderRepository.save_orders``.

    ``futures`` is also set for any ccxt derivative symbol (``BTC/USDT:USDT`` has a settle
    currency): a property of the market, the same in every version of the order.
    """

    ex_id: int
    uid: int
    exchange: str
    ex_order_id: str
    symbol: str
    side: str
    order_type: str
    status: str
    volume: float | None = None
    price: float | None = None
    filled: float | None = None
    remaining: float | None = None
    average: float | None = None
    fee: float | None = None
    fee_currency: str | None = None
    leverage: float | None = None
    reduce_only: bool | None = None
    client_order_id: str | None = None
    created_ms: int | None = None
    updated_ms: int | None = None
    event_id: str | None = None
    cat_ex_id: int | None = None
    bot_id: int | None = None
    plimit: float | None = None
    futures: bool = False
    command: str | None = None
    reason: str | None = None
    trigger_price: float | None = None

    @classmethod
    def from_update(
        cls,
        update: OrderUpdate,
        *,
        ex_id: int,
        uid: int,
        exchange: str,
        event_id: str | None = None,
        exchange_ms: int | None = None,
    ) -> OrderRecord:
        """``exchange_ms`` (the envelope's) stands in for ``updated_ms`` when the venue gave none."""
        return cls(
            ex_id=ex_id,
            uid=uid,
            exchange=exchange,
            ex_order_id=update.ex_order_id,
            symbol=update.symbol,
            side=update.side.value,
            order_type=update.order_type,
            status=update.status.value,
            volume=update.volume,
            price=update.price,
            filled=update.filled,
            remaining=update.remaining,
            average=update.average,
            fee=update.fee,
            fee_currency=update.fee_currency,
            leverage=update.leverage,
            reduce_only=update.reduce_only,
            client_order_id=update.client_order_id,
            created_ms=update.created_ms,
            updated_ms=update.updated_ms if update.updated_ms is not None else exchange_ms,
            event_id=event_id,
            trigger_price=update.trigger_price,
        )

    @property
    def key(self) -> tuple[int, str]:
        return (self.ex_id, self.ex_order_id)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


def _first(a: Any, b: Any) -> Any:
    return a if a is not None else b


def _max(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else max(a, b)


def _owner(name: str, current: Any, incoming: Any) -> Any:
    known = OWNER_FIELDS[name]
    return current if current is not None and current != known else _first(incoming, current)


def _min(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


def incoming_wins(current: OrderRecord, incoming: OrderRecord) -> bool:
    if incoming.is_terminal != current.is_terminal:
        return incoming.is_terminal
    if incoming.updated_ms is None or current.updated_ms is None:
        return True
    return incoming.updated_ms >= current.updated_ms


def merge(current: OrderRecord, incoming: OrderRecord) -> OrderRecord:
    """The stored state after ``incoming`` meets ``current`` (same key)."""
    wins = incoming_wins(current, incoming)
    winner, loser = (incoming, current) if wins else (current, incoming)
    changes: dict[str, Any] = {
        name: _first(getattr(winner, name), getattr(loser, name)) for name in VERSIONED_FIELDS
    }
    for name in OWNER_FIELDS:
        changes[name] = _owner(name, getattr(current, name), getattr(incoming, name))
    if changes["order_type"] == UNKNOWN_TYPE:
        changes["order_type"] = loser.order_type
    changes["status"] = winner.status
    changes["filled"] = _max(current.filled, incoming.filled)
    changes["created_ms"] = _min(current.created_ms, incoming.created_ms)
    changes["updated_ms"] = _first(winner.updated_ms, loser.updated_ms) if wins else current.updated_ms
    return dataclasses.replace(current, **changes)
