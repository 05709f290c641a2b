"""``TradeRecord``: one fill as ``save_trades`` takes it, and the ``trades`` row it becomes."""

from __future__ import annotations

from typing import Any

import msgspec

from fullon_account_service.contract.events import TradeFill
from fullon_account_service.sinks.pnl import Fill, PnlRow
from fullon_account_service.storage.db.models import UNKNOWN

GroupKey = tuple[int, str]
"""(ex_id, symbol): one FIFO book."""
SortKey = tuple[int, str, str]
"""(time_ms, ex_trade_id, ex_order_id): the order fills are applied in."""


class TradeRecord(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """One fill as the ORM sink hands it to ``save_trades`` (a Struct: built once per fill).

    An unknown ``order_type`` is stored as ``"unknown"``: fullon's schema requires a value.
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
    def from_fill(
        cls,
        fill: TradeFill,
        *,
        ex_id: int,
        uid: int,
        exchange: str,
        event_id: str | None = None,
        cat_ex_id: int | None = None,
    ) -> TradeRecord:
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

    def fill(self) -> Fill:
        return Fill(
            self.ex_trade_id,
            self.ex_order_id,
            self.time_ms,
            self.side,
            self.volume,
            self.price,
            self.fee,
            self.fee_currency,
            self.leverage,
        )

    def row(self, pnl: PnlRow) -> TradeRow:
        return TradeRow(
            self.ex_trade_id,
            self.ex_order_id,
            self.uid,
            self.ex_id,
            self.exchange,
            self.symbol,
            UNKNOWN if self.order_type is None else self.order_type,
            self.side,
            self.volume,
            self.price,
            self.cost,
            self.fee,
            self.fee_currency,
            self.liquidity,
            self.leverage,
            self.time_ms,
            self.event_id,
            self.cat_ex_id,
            pnl.cur_volume,
            pnl.cur_avg_price,
            pnl.cur_avg_cost,
            pnl.cur_fee,
            pnl.roi,
            pnl.roi_pct,
            pnl.total_fee,
            self.exec_kind,
        )


class TradeRow(msgspec.Struct, frozen=True, gc=False):
    """A ``trades`` row but ``time``, which the insert derives from ``time_ms``; a Struct, so a
    batch of them is built and JSON-encoded without a dict per row."""

    ex_trade_id: str
    ex_order_id: str
    uid: int
    ex_id: int
    exchange: str
    symbol: str
    order_type: str
    side: str
    volume: float
    price: float
    cost: float
    fee: float | None
    fee_currency: str | None
    liquidity: str | None
    leverage: float | None
    time_ms: int
    event_id: str | None
    cat_ex_id: int | None
    cur_volume: float
    cur_avg_price: float
    cur_avg_cost: float
    cur_fee: float
    roi: float
    roi_pct: float
    total_fee: float
    exec_kind: str | None = None

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__struct_fields__}
