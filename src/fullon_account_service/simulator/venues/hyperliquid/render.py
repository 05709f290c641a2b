"""Model objects -> Hyperliquid JSON rows, exactly as ``/info`` and ``/ws`` send them.

Pure functions, no I/O. Conventions of the venue kept here:
- amounts and prices are decimal strings (``"60000.0"``), ids (``oid``, ``tid``) JSON integers,
  timestamps integer milliseconds, sides ``"B"`` (buy) / ``"A"`` (sell), coins the perp's base name.
- ``clearinghouseState`` reports equity: ``accountValue`` = wallet balance (``SimBalance.total``,
  realised only) + the positions' unrealised pnl; ``totalMarginUsed`` = ``SimBalance.used``;
  ``withdrawable`` = accountValue - totalMarginUsed (never below 0).
- an order's history rows carry only its latest status (the venue may list several per ``oid``;
  ccxt keeps the newest, so one row is the same to it).
- fills carry the position before the fill (``startPosition``), its direction (``dir``) and the
  pnl it realised (``closedPnl``), replayed from the account's fills in order; ``fee`` is the total
  fee, inclusive of the optional ``builderFee``; a liquidation fill carries ``liquidation``
  naming the account. The venue puts the same object on the other side of a liquidation: about
  one maker fill of a perp in ``ABSORBED_EVERY`` (chosen by its trade id) took another account's
  liquidation and carries ``liquidation`` naming that account; it is still an ordinary fill.
- a market order rests as an IOC limit at its slippage price: ``limitPx`` is that price.
- isolated positions say ``leverage.type: "isolated"`` with ``rawUsd``, and their ``marginUsed``
  includes the unrealised pnl; a cross position at low leverage has ``liquidationPx: null``.
- ``orderUpdates`` rows carry no order type (the short form).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fullon_account_service.simulator.model import (
    Market,
    SimAccount,
    SimBalance,
    SimFill,
    SimOrder,
    SimPosition,
)

Row = dict[str, Any]
SETTLE = "USDC"
ABSORBED_EVERY = 4
"""About one maker perp fill in this many is the other side of another account's liquidation."""
SPOT_TOKENS = ("USDC", "HYPE")
"""Spot tokens the venue lists (index = token id)."""
PAGE = 2000
"""The venue's cap on rows per list answer (historical orders, fills, fill snapshots)."""
_STATUS = {"open": "open", "closed": "filled", "canceled": "canceled", "rejected": "rejected"}
_MAINTENANCE_SHARE = 0.5


def num(value: float) -> str:
    """Shortest exact decimal string of a float, never in exponent form, always with a dot."""
    text = repr(float(value) + 0.0)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    if "." not in text:
        text += ".0"
    return "0.0" if text in ("-0.0", "0") else text


def wire_id(value: str) -> int | str:
    """Venue ids are integers on the wire; non-numeric ids (hand-built tests) pass through."""
    return int(value) if value.isdigit() else value


def coin(market: Market) -> str:
    return market.base


def _side(side: str) -> str:
    return "B" if side == "buy" else "A"


_TRIGGER_TYPES = {"stop": "Stop", "take_profit": "Take Profit"}
_LIQ_PX_MIN_LEVERAGE = 3.0
"""At or below this leverage a cross position shows ``liquidationPx: null`` (the account covers it)."""


def _limit_px(order: SimOrder, market: Market) -> float:
    """Market orders rest on the book as IOC limits at their slippage price."""
    if order.price is not None:
        return order.price
    return order.protection_price if order.protection_price is not None else market.price


def order_type(order: SimOrder) -> str:
    kind = "Limit" if order.order_type == "limit" else "Market"
    if order.trigger_kind is None:
        return kind
    return f"{_TRIGGER_TYPES[order.trigger_kind]} {kind}"


def ws_order(order: SimOrder, market: Market) -> Row:
    """The ``order`` object of an ``orderUpdates`` push (the venue's short form)."""
    row: Row = {
        "coin": coin(market),
        "side": _side(order.side),
        "limitPx": num(_limit_px(order, market)),
        "sz": num(order.remaining),
        "oid": wire_id(order.order_id),
        "timestamp": order.created_ms,
        "origSz": num(order.amount),
    }
    if order.client_order_id is not None:
        row["cloid"] = order.client_order_id
    return row


def frontend_order(order: SimOrder, market: Market) -> Row:
    """A ``frontendOpenOrders`` row, also the ``order`` object of ``historicalOrders``."""
    row = ws_order(order, market)
    trigger = order.trigger_price
    condition = "N/A"
    if trigger is not None:
        condition = f"Price {'above' if trigger >= market.price else 'below'} {num(trigger)}"
    row.update(
        {
            "cloid": order.client_order_id,
            "triggerCondition": condition,
            "isTrigger": trigger is not None,
            "triggerPx": num(trigger or 0.0),
            "children": [],
            "isPositionTpsl": False,
            "reduceOnly": order.reduce_only,
            "orderType": order_type(order),
            "tif": "Gtc" if order.order_type == "limit" else ("Ioc" if trigger is None else None),
        }
    )
    return row


def order_status(order: SimOrder) -> Row:
    """``{order, status, statusTimestamp}`` as in ``historicalOrders`` and ``orderUpdates``."""
    return {"status": _STATUS[order.status], "statusTimestamp": order.updated_ms}


def historical_order(order: SimOrder, market: Market) -> Row:
    return {"order": frontend_order(order, market), **order_status(order)}


def order_update(order: SimOrder, market: Market) -> Row:
    return {"order": ws_order(order, market), **order_status(order)}


@dataclass(slots=True)
class _Book:
    size: float = 0.0
    entry: float = 0.0


@dataclass(slots=True)
class FillReplay:
    """Running one-way position per coin, to give each fill its ``startPosition``/``dir``/
    ``closedPnl``. Feed fills in the order they happened."""

    books: dict[str, _Book] = field(default_factory=dict)

    def row(self, fill: SimFill, market: Market, cloid: str | None = None, user: str | None = None) -> Row:
        book = self.books.setdefault(fill.symbol, _Book())
        start = book.size
        delta = fill.amount if fill.side == "buy" else -fill.amount
        direction, closed_pnl = self._advance(book, delta, fill.price)
        return {
            "coin": coin(market),
            "px": num(fill.price),
            "sz": num(fill.amount),
            "side": _side(fill.side),
            "time": fill.ts_ms,
            "startPosition": num(start),
            "dir": direction,
            "closedPnl": num(closed_pnl),
            "hash": "0x" + hashlib.sha256(f"hl-fill|{fill.trade_id}".encode()).hexdigest(),
            "oid": wire_id(fill.order_id),
            "crossed": fill.taker,
            "fee": num(fill.fee),
            "tid": wire_id(fill.trade_id),
            "feeToken": fill.fee_currency,
            "twapId": None,
            **_fill_extras(fill, market, cloid, user),
        }

    @staticmethod
    def _advance(book: _Book, delta: float, price: float) -> tuple[str, float]:
        start = book.size
        if start == 0 or start * delta > 0:
            size = abs(start) + abs(delta)
            book.entry = (abs(start) * book.entry + abs(delta) * price) / size
            book.size = start + delta
            return ("Open Long" if delta > 0 else "Open Short"), 0.0
        closed = min(abs(delta), abs(start))
        pnl = (price - book.entry) * closed * (1.0 if start > 0 else -1.0)
        if abs(delta) > abs(start):
            book.size, book.entry = start + delta, price
            return ("Long > Short" if start > 0 else "Short > Long"), pnl
        book.size = round(start + delta, 10)
        if book.size == 0:
            book.entry = 0.0
        return ("Close Long" if start > 0 else "Close Short"), pnl


def _fill_extras(fill: SimFill, market: Market, cloid: str | None, user: str | None) -> Row:
    extras: Row = {}
    if fill.builder_fee:
        extras["builderFee"] = num(fill.builder_fee)
    if cloid is not None:
        extras["cloid"] = cloid
    if fill.exec_kind == "liquidation":
        extras["liquidation"] = {"liquidatedUser": user, "markPx": num(fill.price), "method": "market"}
    elif absorbed_liquidation(fill, market):
        other = "0x" + hashlib.sha256(f"hl-liquidated|{fill.trade_id}".encode()).hexdigest()[:40]
        extras["liquidation"] = {"liquidatedUser": other, "markPx": num(fill.price), "method": "market"}
    return extras


def absorbed_liquidation(fill: SimFill, market: Market) -> bool:
    """Whether this maker fill is rendered as the other side of another account's liquidation."""
    chosen = int(hashlib.sha256(fill.trade_id.encode()).hexdigest(), 16) % ABSORBED_EVERY == 0
    return market.kind != "spot" and not fill.taker and fill.exec_kind is None and chosen


def fill_rows(account: SimAccount, markets: Mapping[str, Market]) -> list[Row]:
    """Every fill of an account as rows, oldest first."""
    replay = FillReplay()
    rows = []
    for f in account.fills:
        if f.symbol in markets:
            order = account.orders.get(f.order_id)
            cloid = order.client_order_id if order else None
            rows.append(replay.row(f, markets[f.symbol], cloid, account.wallet_address))
    return rows


def position_row(position: SimPosition, market: Market) -> Row:
    value = abs(position.contracts) * position.mark_price
    margin = position.margin
    leverage: Row = {"type": "cross", "value": round(position.leverage)}
    liquidation: str | None = num(position.liquidation_price)
    margin_used = margin
    if position.isolated:
        leverage = {
            "type": "isolated",
            "value": round(position.leverage),
            "rawUsd": num(margin - position.contracts * position.entry_price),
        }
        margin_used = margin + position.unrealized_pnl
    elif position.leverage <= _LIQ_PX_MIN_LEVERAGE:
        liquidation = None
    return {
        "type": "oneWay",
        "position": {
            "coin": coin(market),
            "szi": num(position.contracts),
            "leverage": leverage,
            "entryPx": num(position.entry_price),
            "positionValue": num(value),
            "unrealizedPnl": num(position.unrealized_pnl),
            "returnOnEquity": num(position.unrealized_pnl / margin if margin else 0.0),
            "liquidationPx": liquidation,
            "marginUsed": num(margin_used),
            "maxLeverage": market.max_leverage,
            "cumFunding": {"allTime": "0.0", "sinceOpen": "0.0", "sinceChange": "0.0"},
        },
    }


def spot_state(account: SimAccount | None) -> Row:
    """``spotClearinghouseState``: the spot wallet's tokens (``hold`` = locked by spot orders)."""
    tokens = {name: index for index, name in enumerate(SPOT_TOKENS)}
    rows = [
        {
            "coin": name,
            "token": tokens.get(name, 0),
            "hold": num(b.used),
            "total": num(b.total),
            "entryNtl": "0.0",
        }
        for name, b in sorted((account.spot if account else {}).items())
    ]
    return {"balances": rows}


def clearinghouse_state(account: SimAccount | None, markets: Mapping[str, Market], now_ms: int) -> Row:
    """The perp account summary; an unknown address gets the venue's all-zero state."""
    balance = account.balances.get(SETTLE, SimBalance(0.0)) if account else SimBalance(0.0)
    positions = [
        p for p in (account.positions.values() if account else ()) if p.contracts and p.symbol in markets
    ]
    equity = balance.total + sum(p.unrealized_pnl for p in positions)
    signed_notional = sum(p.contracts * p.mark_price for p in positions)
    summary = {
        "accountValue": num(equity),
        "totalNtlPos": num(sum(abs(p.contracts) * p.mark_price for p in positions)),
        "totalRawUsd": num(equity - signed_notional),
        "totalMarginUsed": num(balance.used),
    }
    return {
        "marginSummary": summary,
        "crossMarginSummary": dict(summary),
        "crossMaintenanceMarginUsed": num(sum(p.margin for p in positions) * _MAINTENANCE_SHARE),
        "withdrawable": num(max(equity - balance.used, 0.0)),
        "assetPositions": [position_row(p, markets[p.symbol]) for p in positions],
        "time": now_ms,
    }
