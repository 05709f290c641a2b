"""Deterministic event ids.

The id is a digest of the fact, not of its delivery: the source (ws/rest), the received time and
fields a venue fills in only on one channel are left out, so two sightings of the same fact
collide on purpose and a sink keeps one.
"""

from __future__ import annotations

import hashlib

import msgspec

from fullon_account_service.contract.events import (
    BalanceSnapshot,
    Envelope,
    LedgerEntry,
    OrderUpdate,
    Payload,
    PositionSnapshot,
    Source,
    TradeFill,
)

_encoder = msgspec.json.Encoder(order="sorted")


def _digest(*parts: object) -> str:
    return hashlib.blake2b(_encoder.encode(parts), digest_size=16).hexdigest()


def event_id(ex_id: int, payload: Payload, exchange_ms: int | None = None) -> str:
    """Identity of a fact.

    - fill: the venue's trade id and order id: one fill, one id, whatever channel saw it;
    - ledger entry: the venue's ledger (or transaction) id and the currency: a venue that
      books one transaction in two currencies gives two entries under one id;
    - order: order id + status + filled quantity: each state of an order is one fact;
    - balance / position: the whole content plus the exchange time, so a repeated identical
      snapshot dedupes while a real change does not.
    """
    match payload:
        case TradeFill():
            return _digest("trade", ex_id, payload.ex_trade_id, payload.ex_order_id)
        case LedgerEntry():
            return _digest("ledger", ex_id, payload.ex_ledger_id, payload.currency)
        case OrderUpdate():
            return _digest("order", ex_id, payload.ex_order_id, payload.status.value, payload.filled)
        case BalanceSnapshot() | PositionSnapshot():
            return _digest(payload, ex_id, exchange_ms)


def envelope_of(
    payload: Payload,
    *,
    ex_id: int,
    uid: int,
    exchange: str,
    source: Source,
    received_ms: int,
    exchange_ms: int | None,
) -> Envelope:
    """``payload`` in an envelope whose id is derived from the fact (``event_id``); not validated,
    so the caller decides whether to ``validate`` (producers) or to build a bad one (tests)."""
    return Envelope(
        event_id=event_id(ex_id, payload, exchange_ms),
        ex_id=ex_id,
        uid=uid,
        exchange=exchange,
        source=source,
        received_ms=received_ms,
        exchange_ms=exchange_ms,
        payload=payload,
    )
