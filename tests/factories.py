"""Builders of events for every test: one place to change when a field is added to the contract.

Each builder makes a valid event with plain defaults; tests name only what they care about
(``fill("t-2", side=Side.BUY)``, ``envelope(payload, ex_id=3)``). The envelope's id is derived
from the fact (``contract.envelope_of``), as producers derive it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from fullon_account_service.bus.batch import Delivery
from fullon_account_service.contract import (
    BalanceSnapshot,
    CurrencyBalance,
    Envelope,
    LedgerEntry,
    LedgerReason,
    OrderStatus,
    OrderUpdate,
    Payload,
    Position,
    PositionSide,
    PositionSnapshot,
    Side,
    Source,
    TradeFill,
    envelope_of,
)
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.normalise import Normaliser

NOW_MS = 1_700_000_000_000


def fill(trade_id: str = "t-1", **fields: Any) -> TradeFill:
    """A fill of 0.5 BTC/USDT at 100 (``cost`` follows price and volume unless given)."""
    values: dict[str, Any] = {
        "ex_order_id": "o-1",
        "symbol": "BTC/USDT",
        "side": Side.SELL,
        "price": 100.0,
        "volume": 0.5,
        "time_ms": NOW_MS,
    }
    values.update(fields)
    values.setdefault("cost", values["price"] * values["volume"])
    return TradeFill(ex_trade_id=trade_id, **values)


def order(order_id: str = "o-1", **fields: Any) -> OrderUpdate:
    """An open limit buy of 2 BTC/USDT at 100, nothing filled."""
    values: dict[str, Any] = {
        "symbol": "BTC/USDT",
        "side": Side.BUY,
        "order_type": "limit",
        "status": OrderStatus.OPEN,
        "price": 100.0,
        "volume": 2.0,
        "filled": 0.0,
    }
    values.update(fields)
    return OrderUpdate(ex_order_id=order_id, **values)


def balance(
    currency: str = "USDT", total: float | None = 100.0, free: float | None = 100.0, used: float | None = 0.0
) -> BalanceSnapshot:
    return BalanceSnapshot(balances={currency: CurrencyBalance(total=total, free=free, used=used)})


def position(symbol: str = "BTC/USDT:USDT", volume: float = 1.0, **fields: Any) -> PositionSnapshot:
    side = fields.pop("side", PositionSide.LONG)
    return PositionSnapshot(positions=[Position(symbol=symbol, side=side, volume=volume, **fields)])


def ledger_entry(ledger_id: str = "l-1", **fields: Any) -> LedgerEntry:
    """A funding payment of -0.5 USDT on BTC/USDT:USDT."""
    values: dict[str, Any] = {
        "currency": "USDT",
        "amount": -0.5,
        "reason": LedgerReason.FUNDING,
        "time_ms": NOW_MS,
        "symbol": "BTC/USDT:USDT",
    }
    values.update(fields)
    return LedgerEntry(ex_ledger_id=ledger_id, **values)


def envelope(
    payload: Payload,
    *,
    ex_id: int = 7,
    uid: int = 1,
    exchange: str = "kraken",
    source: Source = Source.WS,
    exchange_ms: int | None = NOW_MS,
    received_ms: int | None = None,
    eid: str | None = None,
) -> Envelope:
    """``payload`` as a producer would publish it (received when it happened, unless given);
    ``eid`` replaces the derived event id (a copy the producer should have deduplicated)."""
    built = envelope_of(
        payload,
        ex_id=ex_id,
        uid=uid,
        exchange=exchange,
        source=source,
        received_ms=received_ms if received_ms is not None else exchange_ms or NOW_MS,
        exchange_ms=exchange_ms,
    )
    return built if eid is None else msgspec.structs.replace(built, event_id=eid)


def normalised_fills(n: int, *, ex_id: int = 1, tag: str = "T") -> list[Envelope]:
    """``n`` Kraken fills of 1 BTC/USD at 1 as ccxt reports them, through the producer's normaliser
    (ids ``{tag}{i}``, one millisecond apart)."""
    ref = AccountRef(ex_id=ex_id, uid=1, venue="kraken")
    rows = [
        {
            "id": f"{tag}{i}",
            "order": "O",
            "symbol": "BTC/USD",
            "side": "buy",
            "price": 1.0,
            "amount": 1.0,
            "timestamp": NOW_MS + i,
        }
        for i in range(n)
    ]
    return Normaliser(ref, {"BTC/USD"}, str).trades(rows, Source.REST).envelopes


def deliveries(envelopes: Sequence[Envelope], stream: str = "test:account:x") -> list[Delivery]:
    """What a consumer hands its handler: first delivery, entry ids in order."""
    return [Delivery(stream, f"{i + 1}-0", e, 1) for i, e in enumerate(envelopes)]
