"""Sample envelopes of every kind and a recording handler, shared by the bus tests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from factories import NOW_MS, balance, envelope, fill, ledger_entry, order, position
from fullon_account_service.bus import Delivery
from fullon_account_service.contract import KINDS, Envelope, Payload

MakeEnvelope = Callable[[int, str], Envelope]


def sample_payload(i: int, kind: str) -> Payload:
    match kind:
        case "balance":
            return balance(total=100.0 + i, free=100.0 + i)
        case "order":
            return order(f"o-{i}", filled=0.0, volume=1.0)
        case "position":
            return position(volume=1.0 + i)
        case "ledger":
            return ledger_entry(f"l-{i}", time_ms=NOW_MS + i)
        case _:
            return fill(f"t-{i}", ex_order_id=f"o-{i}", volume=0.25, time_ms=NOW_MS + i)


def sample_envelope(i: int, kind: str = "trade") -> Envelope:
    return envelope(sample_payload(i, kind), exchange_ms=NOW_MS + i)


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
