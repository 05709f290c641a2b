"""The JSON shapes fullon tools read from the ``accounts`` and ``account_positions`` hashes.

Balances: ``{"<CUR>": {"total", "free", "used", "balance", "available"}, ..., "date": ISO UTC}``.
``balance``/``available`` repeat ``total``/``free`` for readers that use the older names.
Positions: ``{"<symbol>": {"cost", "volume", "fee", "count", "price", "timestamp", "side", ...},
..., "timestamp": ISO UTC}``; the per-symbol ``timestamp`` is epoch seconds. ``side`` is ours
(upstream dropped it). An unknown number is JSON ``null``, never 0: zero and "not reported"
must stay distinguishable.
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


def balance_entry(balance: Any) -> dict[str, float | None]:
    """One currency from a contract ``CurrencyBalance``, a mapping or an object with
    ``total``/``free``/``used``.

    The contract's struct comes first and as is: decoding already made its numbers floats, and
    this runs for every currency of every snapshot the sink stores.
    """
    if type(balance) is CurrencyBalance:
        total, free = balance.total, balance.free
        return {"total": total, "free": free, "used": balance.used, "balance": total, "available": free}
    if isinstance(balance, Mapping):
        total, free, used = balance.get("total"), balance.get("free"), balance.get("used")
    else:
        total = getattr(balance, "total", None)
        free = getattr(balance, "free", None)
        used = getattr(balance, "used", None)
    total = None if total is None else float(total)
    free = None if free is None else float(free)
    used = None if used is None else float(used)
    return {"total": total, "free": free, "used": used, "balance": total, "available": free}


def account_document(balances: Mapping[str, Any], now_s: float) -> dict[str, Any]:
    document: dict[str, Any] = {
        currency: balance_entry(value) for currency, value in balances.items() if currency != ACCOUNT_DATE
    }
    document[ACCOUNT_DATE] = iso_utc(now_s)
    return document


def merge_account(
    stored: Mapping[str, Any] | None, changed: Mapping[str, Any], now_s: float
) -> dict[str, Any]:
    """A partial balance update laid over the stored account: changed currencies replace theirs."""
    if stored is None:
        return account_document(changed, now_s)
    document = {k: v for k, v in stored.items() if k != ACCOUNT_DATE}
    document.update(account_document(changed, now_s))
    return document


def position_entry(position: Mapping[str, Any], now_s: float) -> dict[str, Any]:
    """The stored form of one position; fields beyond fullon's (mark price, leverage...) are kept."""
    entry = {name: position.get(name) for name in POSITION_FIELDS}
    entry.update({k: v for k, v in position.items() if k not in ("symbol", "ex_id")})
    if entry["timestamp"] is None:
        entry["timestamp"] = now_s
    return entry


def position_from_contract(position: Position, timestamp_s: float) -> dict[str, Any]:
    """A contract ``Position`` in the cache's terms: ``price`` is the entry price, ``cost`` its notional."""
    entry = position.entry_price
    return {
        "symbol": position.symbol,
        "cost": None if entry is None else position.volume * entry,
        "volume": position.volume,
        "fee": None,
        "count": None,
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
    return position.get("side") != PositionSide.FLAT.value and (position.get("volume") or 0.0) > 0.0


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
