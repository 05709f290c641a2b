"""Shared contract between producers and sinks: event types, ids and the wire codec."""

from fullon_account_service.contract.codec import decode, encode, validate
from fullon_account_service.contract.events import (
    KIND_OF,
    KINDS,
    ORDER_TYPES,
    SCHEMA_VERSION,
    BalanceSnapshot,
    CurrencyBalance,
    Envelope,
    ExecKind,
    Liquidity,
    OrderStatus,
    OrderUpdate,
    Payload,
    Position,
    PositionSide,
    PositionSnapshot,
    Side,
    Source,
    TradeFill,
)
from fullon_account_service.contract.ids import event_id

__all__ = [
    "KINDS",
    "KIND_OF",
    "ORDER_TYPES",
    "SCHEMA_VERSION",
    "BalanceSnapshot",
    "CurrencyBalance",
    "Envelope",
    "ExecKind",
    "Liquidity",
    "OrderStatus",
    "OrderUpdate",
    "Payload",
    "Position",
    "PositionSide",
    "PositionSnapshot",
    "Side",
    "Source",
    "TradeFill",
    "decode",
    "encode",
    "event_id",
    "validate",
]
