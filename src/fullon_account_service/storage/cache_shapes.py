"""The JSON shapes fullon tools read from the ``accounts`` and ``account_positions`` hashes.

Balances: ``{"<CUR>": {"total", "free", "used", "balance", "available"}, ..., "date": ISO UTC}``.
``balance``/``available`` repeat ``total``/``free`` for readers that use the older names. An
update that gives a currency's total without its split (Kraken's WebSocket) keeps the ``used``
last known for that currency and derives ``free = total - used`` (``complete_balance``); a value
still unknown after that is JSON ``null`` (see docs/fields.md for when and how long).

Positions: ``{"<symbol>": {"cost", "volume", "fee", "count", "price", "timestamp", "side", ...},
..., "timestamp": ISO UTC}``; the per-symbol ``timestamp`` is epoch seconds. fullon's
convention: ``volume`` is signed (a short is negative) and ``cost = volume * price`` carries the
same sign; ``side`` is stored as well (upstream dropped it). ``fee`` and ``count`` are always
numbers, because fullon code sums them: the venues' position feeds report neither, so they are
``0.0`` and ``0`` unless the writer passes numbers (the fees of an open position are the
``cur_fee`` of its newest row in ``trades``). Other unknown numbers are JSON ``null``, never 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import msgspec

from fullon_account_service.contract.events import CurrencyBalance, Position, PositionSide

ACCOUNT_DATE = "date"
POSITIONS_TIMESTAMP = "timestamp"
POSITION_FIELDS = ("cost", "volume", "fee", "count", "price", "timestamp", "side")

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(dict[str, Any])


@lru_cache(maxsize=16)
def iso_utc(epoch_s: float) -> str:
    """Cached: a batch stamps every document it writes with the same clock reading."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat()


def encode(value: Mapping[str, Any]) -> bytes:
    return _encoder.encode(value)


def decode(raw: bytes | str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        return _decoder.decode(raw)
    except msgspec.DecodeError:
        return None


def _split(balance: Any) -> tuple[float | None, float | None, float | None]:
    if isinstance(balance, Mapping):
        total, free, used = balance.get("total"), balance.get("free"), balance.get("used")
    else:
        total = getattr(balance, "total", None)
        free = getattr(balance, "free", None)
        used = getattr(balance, "used", None)
    return (
        None if total is None else float(total),
        None if free is None else float(free),
        None if used is None else float(used),
    )


def complete_balance(
    total: float | None, free: float | None, used: float | None, previous: Any = None
) -> dict[str, float | None]:
    """One currency's stored entry, its split completed where arithmetic can tell it.

    ``total = free + used`` (ccxt's definition), so one missing part is the total minus the
    other. A totals-only update (Kraken's WebSocket) keeps the ``used`` of ``previous`` (the
    entry it replaces: the last complete snapshot, or what was derived from it) and derives
    ``free``; used is what open orders lock, and the totals-only update that follows a fill is
    answered by one REST balance read that brings the venue's own split. Left unknown (``null``):
    no previous ``used``, or a total below it (the locked funds moved; REST will tell).
    """
    if total is not None and (free is None or used is None):
        if used is None and free is not None:
            used = total - free if free <= total else None
        elif free is None and used is not None:
            free = total - used if used <= total else None
        else:
            known = _split(previous)[2] if previous is not None else None
            if known is not None and known <= total:
                used, free = known, total - known
    return {"total": total, "free": free, "used": used, "balance": total, "available": free}


def balance_entry(balance: Any, previous: Any = None) -> dict[str, float | None]:
    """One currency from a contract ``CurrencyBalance``, a mapping or an object with
    ``total``/``free``/``used``, laid over ``previous`` (see ``complete_balance``).

    The contract's struct with its split known comes first and as is: decoding already made its
    numbers floats, and this runs for every currency of every snapshot the sink stores.
    """
    if type(balance) is CurrencyBalance and balance.free is not None and balance.used is not None:
        total, free = balance.total, balance.free
        return {"total": total, "free": free, "used": balance.used, "balance": total, "available": free}
    return complete_balance(*_split(balance), previous)


def combine_balances(older: Any, newer: Any) -> dict[str, float | None]:
    """Two updates of one currency in one batch: the newer, completed from the older."""
    return balance_entry(newer, balance_entry(older))


def account_document(
    balances: Mapping[str, Any], now_s: float, previous: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    before = previous or {}
    document: dict[str, Any] = {
        currency: balance_entry(value, before.get(currency))
        for currency, value in balances.items()
        if currency != ACCOUNT_DATE
    }
    document[ACCOUNT_DATE] = iso_utc(now_s)
    return document


def merge_account(
    stored: Mapping[str, Any] | None, changed: Mapping[str, Any], now_s: float
) -> dict[str, Any]:
    """A partial balance update laid over the stored account: changed currencies replace theirs,
    each completed from the entry it replaces."""
    if stored is None:
        return account_document(changed, now_s)
    document = {k: v for k, v in stored.items() if k != ACCOUNT_DATE}
    document.update(account_document(changed, now_s, stored))
    return document


def _signed_volume(volume: Any, side: Any) -> tuple[float | None, Any]:
    """fullon's sign convention from either description: a short has negative volume."""
    if volume is None:
        return None, side
    size = float(volume)
    if side == PositionSide.SHORT.value:
        return -abs(size), side
    if side == PositionSide.LONG.value:
        return abs(size), side
    if side is None and size != 0.0:
        return size, PositionSide.SHORT.value if size < 0 else PositionSide.LONG.value
    return size, side


def position_entry(position: Mapping[str, Any], now_s: float) -> dict[str, Any]:
    """The stored form of one position; fields beyond fullon's (mark price, leverage...) are kept.

    ``volume`` is signed by ``side`` (or ``side`` taken from the sign), ``fee``/``count`` are
    numbers (``0.0``/``0`` when not given)."""
    entry = {name: position.get(name) for name in POSITION_FIELDS}
    entry.update({k: v for k, v in position.items() if k not in ("symbol", "ex_id")})
    entry["volume"], entry["side"] = _signed_volume(entry["volume"], entry["side"])
    if entry["fee"] is None:
        entry["fee"] = 0.0
    if entry["count"] is None:
        entry["count"] = 0
    if entry["timestamp"] is None:
        entry["timestamp"] = now_s
    return entry


def position_from_contract(position: Position, timestamp_s: float) -> dict[str, Any]:
    """A contract ``Position`` in the cache's terms: signed ``volume``, ``price`` the entry price,
    ``cost`` its signed notional; a venue position reports no fees nor fill count."""
    entry = position.entry_price
    volume = -position.volume if position.side is PositionSide.SHORT else position.volume
    return {
        "symbol": position.symbol,
        "cost": None if entry is None else volume * entry,
        "volume": volume,
        "fee": 0.0,
        "count": 0,
        "price": entry,
        "timestamp": timestamp_s,
        "side": position.side.value,
        "mark_price": position.mark_price,
        "leverage": position.leverage,
        "unrealized_pnl": position.unrealized_pnl,
        "liquidation_price": position.liquidation_price,
        "margin": position.margin,
    }


def is_open(position: Mapping[str, Any]) -> bool:
    return position.get("side") != PositionSide.FLAT.value and (position.get("volume") or 0.0) != 0.0


def positions_document(
    stored: Mapping[str, Any] | None, positions: Sequence[Mapping[str, Any]], now_s: float
) -> dict[str, Any] | None:
    """Symbols laid over ``stored`` (pass ``None`` to replace); a flat or empty one closes its
    symbol. ``None`` when nothing is left open: the hash field is then deleted."""
    document = {k: v for k, v in (stored or {}).items() if k != POSITIONS_TIMESTAMP}
    for position in positions:
        symbol = str(position["symbol"])
        if is_open(position):
            document[symbol] = position_entry(position, now_s)
        else:
            document.pop(symbol, None)
    if not document:
        return None
    document[POSITIONS_TIMESTAMP] = iso_utc(now_s)
    return document


def positions_list(ex_id: str, document: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {"symbol": symbol, "ex_id": ex_id, **entry}
        for symbol, entry in sorted(document.items())
        if symbol != POSITIONS_TIMESTAMP and isinstance(entry, dict)
    ]
