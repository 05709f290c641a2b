"""A state is published once per change; "latest wins" survives; the memory stays bounded.

Each verdict is checked both ways: the repeat is dropped, and a changed (or older, or forgotten)
state goes out.
"""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

import factories
from fullon_account_service.bus.publisher import Publisher
from fullon_account_service.bus.streams import stream_key
from fullon_account_service.contract import (
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
)
from fullon_account_service.producers.final_states import FinalStates
from fullon_account_service.producers.outbox import Outbox
from fullon_account_service.producers.published_state import PublishedStates

_stamp = iter(range(1_700_000_000_000, 1_800_000_000_000))


def envelope(payload: Payload, ex_id: int = 1) -> Envelope:
    """Every envelope its own time (and event id), as successive reads of one state would be."""
    return factories.envelope(payload, ex_id=ex_id, source=Source.REST, exchange_ms=next(_stamp))


def order(
    status: OrderStatus = OrderStatus.OPEN,
    filled: float = 0.0,
    order_id: str = "O1",
    fee: float | None = None,
) -> Envelope:
    return envelope(
        OrderUpdate(
            ex_order_id=order_id,
            symbol="BTC/USD",
            side=Side.BUY,
            order_type="limit",
            status=status,
            price=100.0,
            volume=1.0,
            filled=filled,
            fee=fee,
            updated_ms=next(_stamp),
        )
    )


def balance(partial: bool = False, **totals: float) -> Envelope:
    rows = {c: CurrencyBalance(total=t, free=t, used=0.0) for c, t in totals.items()}
    return envelope(BalanceSnapshot(balances=rows, partial=partial))


def positions(*rows: tuple[str, float], partial: bool = False) -> Envelope:
    items = [
        Position(symbol=s, side=PositionSide.LONG if v else PositionSide.FLAT, volume=abs(v)) for s, v in rows
    ]
    return envelope(PositionSnapshot(positions=items, partial=partial))


def fill(trade_id: str) -> Envelope:
    return envelope(
        factories.fill(trade_id, ex_order_id="O1", symbol="BTC/USD", side=Side.BUY, volume=1.0, time_ms=1)
    )


def test_an_order_state_goes_out_once_and_every_change_goes_out() -> None:
    states = PublishedStates()
    sent = [
        states.fresh([e])
        for e in (
            order(),
            order(),  # repeat (another read, another time)
            order(filled=0.5),
            order(filled=0.5),  # repeat
            order(OrderStatus.CLOSED, 1.0),
            order(OrderStatus.CLOSED, 1.0),  # repeat
        )
    ]
    assert [len(s) for s in sent] == [1, 0, 1, 0, 1, 0]
    assert states.repeats == 3


def test_latest_wins_a_state_seen_before_goes_out_again_when_it_differs_from_the_last() -> None:
    states = PublishedStates()
    assert states.fresh([order(filled=0.5)])
    assert states.fresh([order(filled=0.2)])  # an older read arriving late: still the latest queued
    assert states.fresh([order(filled=0.5)]), "the state seen first is not the latest queued any more"


def test_fills_are_never_dropped_here() -> None:
    states = PublishedStates()
    same = fill("T1")
    assert states.fresh([same, same]) == [same, same]


def test_balances_complete_snapshots_repeat_only_the_last_complete_one_without_partials_since() -> None:
    states = PublishedStates()
    assert states.fresh([balance(USD=10, BTC=1)])
    assert not states.fresh([balance(USD=10, BTC=1)])
    assert states.fresh([balance(USD=11, BTC=1)])
    assert not states.fresh([balance(True, USD=11)]), "a partial repeating each currency is a repeat"
    assert states.fresh([balance(True, USD=12)])
    assert states.fresh([balance(USD=11, BTC=1)]), "after a partial, a complete snapshot goes out"
    assert not states.fresh([balance(USD=11, BTC=1)])
    assert states.fresh([balance(USD=11)]), "a currency gone from a complete snapshot is a change"


def test_a_complete_snapshot_that_partial_updates_already_said_is_a_repeat() -> None:
    """A REST balance read after the stream's partial updates: what the sink holds already."""
    states = PublishedStates()
    assert states.fresh([balance(True, USD=10, BTC=1)])
    assert states.fresh([balance(USD=10, BTC=1)]), "no complete snapshot yet: the sink may hold more"
    assert not states.fresh([balance(True, USD=10)]), "a partial repeating a currency is a repeat"
    assert not states.fresh([balance(USD=10, BTC=1)]), "the repeated partial changed nothing"
    assert states.fresh([balance(True, USD=12)])
    assert not states.fresh([balance(USD=12, BTC=1)]), "the partial said it all"
    assert states.fresh([balance(USD=12, BTC=2)]), "one currency differs"
    assert states.fresh([balance(True, ETH=3)])
    assert states.fresh([balance(USD=12, BTC=2)]), "ETH is gone: the sink must drop it"
    assert states.fresh([positions(("BTC/USDT:USDT", 1.0))])
    assert states.fresh([positions(("BTC/USDT:USDT", 2.0), partial=True)])
    assert not states.fresh([positions(("BTC/USDT:USDT", 2.0))]), "positions alike"


def test_positions_per_symbol() -> None:
    states = PublishedStates()
    assert states.fresh([positions(("BTC/USDT:USDT", 1.0), ("ETH/USDT:USDT", 2.0))])
    assert not states.fresh([positions(("BTC/USDT:USDT", 1.0), ("ETH/USDT:USDT", 2.0))])
    assert not states.fresh([positions(("ETH/USDT:USDT", 2.0), partial=True)])
    assert states.fresh([positions(("ETH/USDT:USDT", 0.0), partial=True)]), "closing a symbol is a change"
    assert states.fresh([positions(("BTC/USDT:USDT", 1.0))])
    assert not states.fresh([positions(("BTC/USDT:USDT", 1.0))])


def test_a_new_memory_after_a_restart_or_a_forgotten_account_publishes_the_first_state_again() -> None:
    first = PublishedStates()
    assert first.fresh([order()])
    assert PublishedStates().fresh([order()]), "a restarted producer publishes its first state"
    first.forget(1)
    assert first.fresh([order()])


def test_a_failed_bus_forgets_every_state_so_the_next_read_goes_out_again() -> None:
    states = PublishedStates()
    assert states.fresh([order(), balance(USD=1)])
    assert not states.fresh([order()]) and not states.fresh([balance(USD=1)])
    states.forget_all()
    assert states.fresh([order()]) and states.fresh([balance(USD=1)])


def test_the_memory_is_bounded_in_count_and_age_and_forgetting_lets_a_repeat_through() -> None:
    now = [0.0]
    states = PublishedStates(max_entries=3, max_age_s=10.0, clock=lambda: now[0])
    for n in range(5):
        assert states.fresh([order(order_id=f"O{n}")])
    assert states.entries(1) == 3
    assert states.fresh([order(order_id="O0")]), "evicted by count: sent again"
    assert not states.fresh([order(order_id="O4")])
    now[0] = 11.0
    assert states.fresh([order(order_id="O4")]), "expired: sent again"
    assert states.entries(1) == 1
    assert states.fresh([balance(USD=1)]) and not states.fresh([balance(USD=1)])
    now[0] = 22.0
    assert states.fresh([balance(USD=1)]), "an expired currency makes the complete snapshot unknown"


def closed(order_id: str, fee: float = 0.1, status: OrderStatus = OrderStatus.CLOSED) -> Envelope:
    return order(status, filled=1.0, order_id=order_id, fee=fee)


def test_a_closed_order_re_read_is_a_repeat_by_its_final_digest_alone() -> None:
    states = PublishedStates(max_entries=3)
    for n in range(10):
        assert states.fresh([closed(f"O{n}")])
    assert states.fresh([closed(f"O{n}") for n in range(10)]) == []
    assert states.repeats == 10
    assert states.entries(1) == 0, "a closed order is remembered by its final digest alone"


def test_closed_orders_do_not_push_open_orders_out_of_the_memory() -> None:
    """A closed order's state is kept only as its digest: the count bound is left to what can
    still change, so a burst of closed orders no longer makes the open ones repeat."""
    states = PublishedStates(max_entries=3)
    assert states.fresh([order(order_id="A")]) and states.entries(1) == 1
    assert states.fresh([closed("A")]), "open to closed is a change"
    assert states.entries(1) == 0, "its open state went with it"
    assert not states.fresh([closed("A")])
    assert len(states.fresh([order(order_id=f"P{n}") for n in range(3)])) == 3
    assert len(states.fresh([closed(f"C{n}") for n in range(10)])) == 10
    assert states.entries(1) == 3
    assert states.fresh([order(order_id=f"P{n}") for n in range(3)]) == [], "the open orders are remembered"


def test_a_closed_order_whose_final_state_differs_from_the_last_queued_goes_out() -> None:
    states = PublishedStates(max_entries=1)
    assert states.fresh([closed("O1", fee=0.1)]) and states.fresh([order(order_id="O2")])
    corrected = closed("O1", fee=0.2)
    assert states.fresh([corrected]), "a changed fee is published"
    assert not states.fresh([closed("O1", fee=0.2)])
    assert states.fresh([closed("O1", fee=0.1)]), "latest wins: the older final state differs from the last"
    assert states.fresh([closed("O1", fee=0.1, status=OrderStatus.CANCELED)]), "a changed status is published"
    assert states.fresh([order(filled=1.0, order_id="O1", fee=0.1)]), "back to open"
    assert states.fresh([closed("O1", fee=0.1, status=OrderStatus.CANCELED)]), "open queued since"


def test_closed_orders_are_published_again_after_a_restart_a_failed_bus_or_their_age() -> None:
    now = [0.0]
    states = PublishedStates(max_entries=1, max_age_s=10.0, clock=lambda: now[0])
    assert states.fresh([closed("O1"), closed("O2")]) and not states.fresh([closed("O1")])
    assert PublishedStates(max_entries=1).fresh([closed("O1")]), "a restarted producer publishes again"
    states.forget_all()
    assert states.fresh([closed("O1")]) and states.fresh([closed("O2")])
    states.forget(1)
    assert states.fresh([closed("O1")]) and states.fresh([closed("O2")])
    now[0] = 20.0
    assert states.fresh([closed("O1")]), "not read again for max_age_s: forgotten"


def test_the_final_states_are_bounded_in_count_the_oldest_queued_first() -> None:
    finals = FinalStates(max_age_s=10.0, max_orders=4)
    for order_id in "ABCDEF":
        finals.queued(order_id, ("closed", 1.0), 0.0)
    assert len(finals) == 3, "the generation of A, B, C went when D, E, F filled the next"
    assert not finals.repeats("A", ("closed", 1.0), 0.0)
    assert all(finals.repeats(order_id, ("closed", 1.0), 0.0) for order_id in "DEF")
    assert not finals.repeats("D", ("closed", 2.0), 0.0)
    finals.queued("D", None, 0.0)
    assert not finals.repeats("D", ("closed", 1.0), 0.0), "a state that is not final removes it"
    assert len(finals) == 2


def test_many_final_states_are_told_apart_and_replaced() -> None:
    finals = FinalStates(max_age_s=10.0)
    for n in range(5_000):
        finals.queued(f"O{n}", ("closed", n), 0.0)
    assert all(finals.repeats(f"O{n}", ("closed", n), 0.0) for n in range(5_000))
    assert not any(finals.repeats(f"O{n}", ("closed", n + 1), 0.0) for n in range(5_000))
    for n in range(0, 5_000, 2):
        finals.queued(f"O{n}", ("canceled", n), 0.0)
    latest = {n: ("canceled" if n % 2 == 0 else "closed", n) for n in range(5_000)}
    assert all(finals.repeats(f"O{n}", state, 0.0) for n, state in latest.items())
    assert len(finals) == 5_000


def test_a_final_state_not_queued_again_within_its_age_expires() -> None:
    finals = FinalStates(max_age_s=10.0)
    finals.queued("A", ("closed",), 0.0)
    assert finals.repeats("A", ("closed",), 6.0), "one generation old"
    finals.queued("B", ("closed",), 6.0)
    assert finals.repeats("B", ("closed",), 12.0) and not finals.repeats("A", ("closed",), 12.0)
    assert not finals.repeats("B", ("closed",), 40.0), "two generations without being queued"


async def test_publish_of_a_repeat_waits_until_the_state_queued_before_it_is_on_the_bus(
    redis_client: aioredis.Redis,
) -> None:
    prefix = "h7test:"
    outbox = Outbox(
        Publisher(redis_client, prefix=prefix), redis_client, prefix=prefix, states=PublishedStates()
    )
    closed = order(OrderStatus.CLOSED, 1.0)
    await outbox.put([closed])  # queued by a stream, not yet flushed: the flusher has not started
    waiting = asyncio.ensure_future(outbox.publish([order(OrderStatus.CLOSED, 1.0)]))
    await asyncio.sleep(0)
    assert not waiting.done(), "a repeat's publish returned before its state reached the bus"
    outbox.start()
    try:
        async with asyncio.timeout(30):
            await waiting
        assert await redis_client.xlen(stream_key(prefix, "order")) == 1
    finally:
        await outbox.close()
