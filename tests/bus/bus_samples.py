"""Sample envelopes of every kind and a recording handler, shared by the bus tests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from fullon_account_service.bus import Delivery
from fullon_account_service.contract import (
    KINDS,
    BalanceSnapshot,
    CurrencyBalance,
    Envelope,
    OrderStatus,
    OrderUpdate,
    Payload,
    Position,
    PositionSide,
    PositionSnapshot,
    Side,
    Source,
    TradeFill,
    event_id,
)

MakeEnvelope = Callable[[int, str], Envelope]


def sample_payload(i: int, kind: str) -> Payload:
    match kind:
        case "balance":
            usdt = CurrencyBalance(total=100.0 + i, free=100.0 + i, used=0.0)
            return BalanceSnapshot(balances={"USDT": usdt})
        case "order":
            return OrderUpdate(
                ex_order_id=f"o-{i}",
                symbol="BTC/USDT",
                side=Side.BUY,
                order_type="limit",
                status=OrderStatus.OPEN,
                price=100.0,
                volume=1.0,
                filled=0.0,
            )
        case "position":
            return PositionSnapshot(
                positions=[Position(symbol="BTC/USDT:USDT", side=PositionSide.LONG, volume=1.0 + i)]
            )
        case _:
            return TradeFill(
                ex_trade_id=f"t-{i}",
                ex_order_id=f"o-{i}",
                symbol="BTC/USDT",
                side=Side.SELL,
                price=100.0,
                volume=0.25,
                cost=25.0,
                time_ms=1_700_000_000_000 + i,
            )


def sample_envelope(i: int, kind: str = "trade") -> Envelope:
    payload = sample_payload(i, kind)
    return Envelope(
        event_id=event_id(7, payload, 1_700_000_000_000 + i),
        ex_id=7,
        uid=1,
        exchange="kraken",
        source=Source.WS,
        received_ms=1_700_000_000_000 + i,
        exchange_ms=1_700_000_000_000 + i,
        payload=payload,
    )


def mixed(n: int) -> list[Envelope]:
    """``n`` envelopes cycling through every kind, all with distinct event ids."""
    return [sample_envelope(i, KINDS[i % len(KINDS)]) for i in range(n)]


class Recorder:
    """A handler that remembers what it saw and can be told to fail for chosen event ids."""

    def __init__(self, fail_ids: Sequence[str] = (), error: Exception | None = None) -> None:
        self.fail_ids = set(fail_ids)
        self.error = error or ValueError("handler refused")
        self.handled: Counter[str] = Counter()
        self.attempts: Counter[str] = Counter()
        self.deliveries: list[Delivery] = []
        self.calls = 0

    async def __call__(self, batch: Sequence[Delivery]) -> None:
        self.calls += 1
        for delivery in batch:
            self.attempts[delivery.envelope.event_id] += 1
        if any(d.envelope.event_id in self.fail_ids for d in batch):
            raise self.error
        for delivery in batch:
            self.handled[delivery.envelope.event_id] += 1
            self.deliveries.append(delivery)
