"""``Fill``: one execution on a venue, the one shape a fill has between the wire and the row.

The ORM sink builds it from a ``TradeFill`` event (``from_contract``), the trades repository from
a stored row, the book check (``verify``) from either; the FIFO engine (``fifo``) reads it.
``BookedFill`` is a fill with the PnL the engine computed for it: a ``trades`` row but ``time``,
which the insert derives from ``time_ms``. Its fields are Fill's followed by ``PnlRow``'s, derived,
never listed again, and the trades table's columns are named the same, so adding a column to
trades means adding it to the model (and a migration) and to ``Fill`` (and ``from_contract`` when
the wire carries it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from fullon_account_service.contract.events import TradeFill

GroupKey = tuple[int, str]
"""(ex_id, symbol): one FIFO book."""
SortKey = tuple[int, str, str]
"""(time_ms, ex_trade_id, ex_order_id): the order fills are applied in."""


class Fill(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """One fill of an account (a Struct: built once per fill, an order of magnitude faster than a
    frozen dataclass). ``side`` is ``"buy"`` or ``"sell"``; ``None`` means the venue did not say.
    """

    ex_id: int
    uid: int
    exchange: str
    ex_trade_id: str
    ex_order_id: str
    symbol: str
    side: str
    volume: float
    price: float
    cost: float
    time_ms: int
    fee: float | None = None
    fee_currency: str | None = None
    leverage: float | None = None
    order_type: str | None = None
    liquidity: str | None = None
    event_id: str | None = None
    cat_ex_id: int | None = None
    exec_kind: str | None = None

    @classmethod
    def from_stored(cls, columns: Mapping[str, Any]) -> Fill:
        """The fill of a stored ``trades`` row, its columns by name; another tool may have written
        its side in capitals."""
        return cls(**{**columns, "side": str(columns["side"]).lower()})

    @classmethod
    def from_contract(
        cls,
        fill: TradeFill,
        *,
        ex_id: int,
        uid: int,
        exchange: str,
        event_id: str | None = None,
        cat_ex_id: int | None = None,
    ) -> Fill:
        return cls(
            ex_id=ex_id,
            uid=uid,
            exchange=exchange,
            ex_trade_id=fill.ex_trade_id,
            ex_order_id=fill.ex_order_id,
            symbol=fill.symbol,
            side=fill.side.value,
            volume=fill.volume,
            price=fill.price,
            cost=fill.cost,
            time_ms=fill.time_ms,
            fee=fill.fee,
            fee_currency=fill.fee_currency,
            leverage=fill.leverage,
            order_type=fill.order_type,
            liquidity=None if fill.liquidity is None else fill.liquidity.value,
            event_id=event_id,
            cat_ex_id=cat_ex_id,
            exec_kind=None if fill.exec_kind is None else fill.exec_kind.value,
        )

    @property
    def key(self) -> tuple[str, str]:
        return (self.ex_trade_id, self.ex_order_id)

    @property
    def group(self) -> GroupKey:
        return (self.ex_id, self.symbol)

    @property
    def sort_key(self) -> SortKey:
        return (self.time_ms, self.ex_trade_id, self.ex_order_id)
