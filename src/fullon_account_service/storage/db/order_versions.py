"""How versions of one order combine into the stored row: the rule, in Python and in SQL.

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

``merge`` applies the rule to two records (used to fold duplicates inside one batch, since one
``INSERT .. ON CONFLICT`` may not touch a row twice); ``upsert_assignments`` builds the same rule
as SQL ``CASE`` expressions for the ``DO UPDATE SET`` clause, for PostgreSQL and SQLite alike.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, case, func, literal_column, null, or_
from sqlalchemy.sql.elements import KeyedColumnElement

from fullon_account_service.contract.events import OrderUpdate
from fullon_account_service.storage.db.column_types import utc_from_ms
from fullon_account_service.storage.db.models import TERMINAL_STATUSES, UNKNOWN, UNKNOWN_BOT_ID

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

    def row(self, now: datetime) -> dict[str, Any]:
        """The column values of an INSERT of this version (the conflict branch combines them)."""
        # Not dataclasses.asdict: it deep-copies every field (all scalars) at ~30x the cost.
        values = {name: getattr(self, name) for name in _RECORD_FIELDS}
        values["futures"] = self.futures or ":" in self.symbol
        values["final_volume"] = self.filled if self.is_terminal else None
        for name, unknown in OWNER_FIELDS.items():
            if values[name] is None:
                values[name] = unknown
        at_ms = self.updated_ms if self.updated_ms is not None else self.created_ms
        values["timestamp"] = utc_from_ms(at_ms) if at_ms is not None else now
        return values


_RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(OrderRecord))


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


_TERMINAL_LITERALS: list[ColumnElement[str]] = [literal_column(f"'{status}'") for status in TERMINAL_STATUSES]


def _is_terminal(status: ColumnElement[Any]) -> ColumnElement[bool]:
    """Inline constants (the statement must stay valid for executemany) compared one by one:
    SQLite builds a temporary b-tree for every ``IN (...)`` list on every row."""
    return or_(*(status == value for value in _TERMINAL_LITERALS))


def _greatest(a: ColumnElement[Any], b: ColumnElement[Any]) -> ColumnElement[Any]:
    return case((a.is_(None), b), (b.is_(None), a), (a > b, a), else_=b)


def _least(a: ColumnElement[Any], b: ColumnElement[Any]) -> ColumnElement[Any]:
    return case((a.is_(None), b), (b.is_(None), a), (a < b, a), else_=b)


def upsert_assignments(
    table: Table, excluded: Any
) -> dict[str, ColumnElement[Any] | KeyedColumnElement[Any]]:
    """``DO UPDATE SET`` values implementing ``merge`` in SQL (``excluded`` = incoming row)."""
    cur, inc = table.c, excluded
    inc_terminal, cur_terminal = _is_terminal(inc.status), _is_terminal(cur.status)
    wins = or_(
        and_(inc_terminal, ~cur_terminal),
        and_(
            inc_terminal == cur_terminal,
            or_(inc.updated_ms.is_(None), cur.updated_ms.is_(None), inc.updated_ms >= cur.updated_ms),
        ),
    )
    values: dict[str, ColumnElement[Any] | KeyedColumnElement[Any]] = {
        name: case((wins, func.coalesce(inc[name], cur[name])), else_=func.coalesce(cur[name], inc[name]))
        for name in VERSIONED_FIELDS
    }
    for name, unset_value in OWNER_FIELDS.items():
        unset = or_(cur[name].is_(None), cur[name] == literal_column(repr(unset_value)))
        values[name] = case((unset, inc[name]), else_=cur[name])
    unknown_type: ColumnElement[str] = literal_column(f"'{UNKNOWN_TYPE}'")
    values["order_type"] = case(
        (inc.order_type == unknown_type, cur.order_type),
        (cur.order_type == unknown_type, inc.order_type),
        else_=values["order_type"],
    )
    status = case((wins, inc.status), else_=cur.status)
    filled = _greatest(cur.filled, inc.filled)
    values["status"] = status
    values["filled"] = filled
    values["final_volume"] = case((_is_terminal(status), filled), else_=null())
    values["created_ms"] = _least(cur.created_ms, inc.created_ms)
    values["updated_ms"] = case((wins, func.coalesce(inc.updated_ms, cur.updated_ms)), else_=cur.updated_ms)
    values["timestamp"] = case((wins, inc.timestamp), else_=cur.timestamp)
    return values
