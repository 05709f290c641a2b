"""ccxt unified structures (order, trade, position, balance, ledger entry) -> contract payloads.

Works for every venue because ccxt already parsed the wire format; venue quirks that the unified
structure hides or gets wrong are corrected first by the venue's adapter
(``producers.venues.<venue>.normalise``). Unknown stays ``None``; malformed raises
``ContractError`` (the caller dead-letters); a symbol the venue never listed is malformed.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any

from fullon_account_service.contract import (
    ExecKind,
    LedgerEntry,
    LedgerReason,
    Liquidity,
    OrderStatus,
    OrderUpdate,
    Position,
    PositionSide,
    Side,
    TradeFill,
)
from fullon_account_service.errors import ContractError
from fullon_account_service.producers.fields import (
    number,
    positive_or_none,
    required_number,
    required_text,
    text,
    timestamp_ms,
)

_STATUSES = {s.value: s for s in OrderStatus}
_NO_LIMIT_TYPES = frozenset({"market", "stop", "take_profit", "trailing_stop"})
"""Order types that execute at market once live: their ``price`` on the wire is a protection
(slippage) price, published as ``protection_price``, never as ``price``."""
_EXEC_KINDS = {k.value: k for k in ExecKind}
_REASONS = {r.value: r for r in LedgerReason}


def symbol_of(row: Mapping[str, Any], markets: Container[str]) -> str:
    symbol = required_text(dict(row), "symbol")
    if symbol not in markets:
        raise ContractError(f"unknown symbol {symbol!r}")
    return symbol


def side_of(value: Any) -> Side:
    try:
        return Side(str(value).lower())
    except ValueError as e:
        raise ContractError(f"side={value!r} is not buy/sell") from e


def _fee(row: dict[str, Any]) -> tuple[float | None, str | None]:
    """Fee cost and currency; a negative fee (maker rebate) is reported as unknown, see fields.md."""
    fee = row.get("fee")
    if not isinstance(fee, dict):
        return None, None
    cost = number(fee, "cost", signed=True)
    currency = text(fee, "currency")
    if cost is None or cost < 0:
        return None, currency if cost is None else None
    return cost, currency


def order_status(row: Mapping[str, Any]) -> OrderStatus | None:
    """The row's status, ``None`` when it names no known state."""
    return _STATUSES.get(str(row.get("status") or "").lower())


def order_update(row: dict[str, Any], markets: Container[str]) -> OrderUpdate:
    status = order_status(row)
    if status is None:
        raise ContractError(f"order status={row.get('status')!r} is not a known state")
    fee, fee_currency = _fee(row)
    info = row.get("info")
    order_type = (text(row, "type") or "unknown").lower()
    price = positive_or_none(number(row, "price"))
    protection = positive_or_none(number(row, "protectionPrice"))
    if order_type in _NO_LIMIT_TYPES and price is not None:
        protection, price = protection or price, None
    client_order_id = text(row, "clientOrderId")
    return OrderUpdate(
        ex_order_id=required_text(row, "id"),
        symbol=symbol_of(row, markets),
        side=side_of(row.get("side")),
        order_type=order_type,
        status=status,
        client_order_id=None if client_order_id == "0" else client_order_id,
        price=price,
        volume=number(row, "amount"),
        filled=number(row, "filled"),
        remaining=number(row, "remaining"),
        average=positive_or_none(number(row, "average")),
        fee=fee,
        fee_currency=fee_currency,
        leverage=positive_or_none(number(info, "leverage")) if isinstance(info, dict) else None,
        reduce_only=row.get("reduceOnly") if isinstance(row.get("reduceOnly"), bool) else None,
        created_ms=timestamp_ms(row, "timestamp"),
        updated_ms=timestamp_ms(row, "lastUpdateTimestamp") or timestamp_ms(row, "lastTradeTimestamp"),
        trigger_price=positive_or_none(number(row, "triggerPrice")),
        protection_price=protection,
    )


def trade_fill(row: dict[str, Any], markets: Container[str]) -> TradeFill:
    fee, fee_currency = _fee(row)
    price = required_number(row, "price")
    volume = required_number(row, "amount")
    cost = number(row, "cost")
    time_ms = timestamp_ms(row, "timestamp")
    if time_ms is None:
        raise ContractError("timestamp is missing")
    liquidity = row.get("takerOrMaker")
    return TradeFill(
        ex_trade_id=required_text(row, "id"),
        ex_order_id=required_text(row, "order"),
        symbol=symbol_of(row, markets),
        side=side_of(row.get("side")),
        price=price,
        volume=volume,
        cost=cost if cost is not None else price * volume,
        time_ms=time_ms,
        fee=fee,
        fee_currency=fee_currency,
        liquidity=Liquidity(liquidity) if liquidity in ("taker", "maker") else None,
        order_type=text(row, "type"),
        exec_kind=_EXEC_KINDS.get(str(row.get("execKind"))),
    )


def position(row: dict[str, Any], markets: Container[str]) -> Position:
    symbol = symbol_of(row, markets)
    contracts = number(row, "contracts") or 0.0
    raw_side = str(row.get("side") or "").lower()
    if contracts == 0 or raw_side not in ("long", "short"):
        return Position(symbol=symbol, side=PositionSide.FLAT, volume=0.0)
    margin = number(row, "initialMargin")
    mode = text(row, "marginMode")
    return Position(
        symbol=symbol,
        side=PositionSide(raw_side),
        volume=contracts,
        entry_price=positive_or_none(number(row, "entryPrice")),
        mark_price=positive_or_none(number(row, "markPrice")),
        leverage=positive_or_none(number(row, "leverage")),
        unrealized_pnl=number(row, "unrealizedPnl", signed=True),
        liquidation_price=positive_or_none(number(row, "liquidationPrice")),
        margin=margin if margin is not None else number(row, "collateral"),
        margin_mode=mode if mode in ("cross", "isolated") else None,
    )


def ledger_entry(row: dict[str, Any], markets: Container[str]) -> LedgerEntry:
    """A ledger row with the keys the venue's ``ledger_fixes`` set (``signedAmount``, ``reason``...).

    A negative fee (a credit) is folded into the amount, so the balance still moves by
    ``amount - fee`` and ``fee`` stays a charge."""
    reason = _REASONS.get(str(row.get("reason")))
    if reason is None:
        raise ContractError(f"ledger reason={row.get('reason')!r} is not known")
    amount = number(row, "signedAmount", signed=True)
    if amount is None:
        raise ContractError("ledger amount is missing")
    time_ms = timestamp_ms(row, "timestamp")
    if time_ms is None:
        raise ContractError("timestamp is missing")
    fee, fee_currency = None, None
    fee_row = row.get("fee")
    if isinstance(fee_row, dict):
        fee, fee_currency = number(fee_row, "cost", signed=True), text(fee_row, "currency")
    if fee is not None and fee < 0:
        amount, fee = amount - fee, 0.0
    currency = required_text(row, "currency")
    return LedgerEntry(
        ex_ledger_id=required_text(row, "id"),
        currency=currency,
        amount=amount,
        reason=reason,
        time_ms=time_ms,
        raw_type=text(row, "rawType"),
        symbol=symbol_of(row, markets) if row.get("symbol") else None,
        balance_after=number(row, "after", signed=True),
        fee=fee,
        fee_currency=fee_currency if fee_currency != currency else None,
    )
