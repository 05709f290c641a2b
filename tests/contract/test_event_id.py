"""Event ids identify the fact, not the sighting: ws and rest copies collide, different facts do not."""

from __future__ import annotations

import factories
from factories import fill
from fullon_account_service.contract import (
    BalanceSnapshot,
    CurrencyBalance,
    Envelope,
    Liquidity,
    OrderStatus,
    OrderUpdate,
    Payload,
    Source,
    event_id,
)


def envelope(payload: Payload, source: Source, received_ms: int, ex_id: int = 3) -> Envelope:
    return factories.envelope(payload, ex_id=ex_id, exchange="bybit", source=source, received_ms=received_ms)


def test_same_fill_over_ws_and_rest_has_same_id() -> None:
    over_ws = envelope(fill(liquidity=Liquidity.TAKER), Source.WS, received_ms=1_700_000_000_050)
    # REST reports the fee the socket left out, and arrives later.
    over_rest = envelope(fill(fee=0.01, fee_currency="USDT"), Source.REST, received_ms=1_700_000_060_000)
    assert over_ws.event_id == over_rest.event_id


def test_different_fill_has_different_id() -> None:
    assert event_id(3, fill("t-1")) != event_id(3, fill("t-2"))
    assert event_id(3, fill("t-1")) != event_id(4, fill("t-1"))
    assert event_id(3, fill("t-1")) != event_id(3, fill("t-1", ex_order_id="o-2"))


def order(status: OrderStatus, filled: float) -> OrderUpdate:
    return factories.order(status=status, filled=filled)


def test_order_state_is_one_fact() -> None:
    assert event_id(3, order(OrderStatus.OPEN, 0.5)) == event_id(3, order(OrderStatus.OPEN, 0.5))
    assert event_id(3, order(OrderStatus.OPEN, 0.5)) != event_id(3, order(OrderStatus.OPEN, 1.0))
    assert event_id(3, order(OrderStatus.OPEN, 1.0)) != event_id(3, order(OrderStatus.CLOSED, 1.0))


def test_balance_snapshot_id_follows_content() -> None:
    usdt = BalanceSnapshot(balances={"USDT": CurrencyBalance(total=1.0)})
    more = BalanceSnapshot(balances={"USDT": CurrencyBalance(total=2.0)})
    assert event_id(3, usdt, 5) == event_id(3, usdt, 5)
    assert event_id(3, usdt, 5) != event_id(3, more, 5)
    assert event_id(3, usdt, 5) != event_id(3, usdt, 6)
