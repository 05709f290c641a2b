"""The normaliser's memory of order facts is bounded by count and by age, and forgetting never
invents a field: a sparse update about a forgotten order is held back for REST to report."""

from __future__ import annotations

from fullon_account_service.contract import Source
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.normalise import Normaliser
from fullon_account_service.producers.normalise.known_orders import KnownOrders

OPEN = {"symbol": "BTC/USD", "side": "buy", "type": "limit", "amount": 1.0, "price": 100.0}


def test_facts_expire_when_not_seen_again_and_a_sighting_refreshes_them() -> None:
    now = [0]
    known = KnownOrders(lambda: now[0], max_age_ms=1_000)
    known.learn("A", OPEN)
    known.learn("B", OPEN)
    now[0] = 900
    known.learn("A", {"status": "open"})  # nothing immutable: not a sighting of the facts
    known.learn("B", OPEN)
    now[0] = 1_500
    assert known.get("A") == {} and known.get("B")["symbol"] == "BTC/USD"
    assert len(known) == 1


def test_facts_learned_later_add_to_those_known_and_an_empty_field_erases_none() -> None:
    known = KnownOrders(lambda: 0)
    known.learn("A", {"symbol": "BTC/USD", "side": "buy", "status": "open"})
    known.learn("A", {"side": "", "amount": 2.0, "price": None, "type": "limit"})
    assert known.get("A") == {"symbol": "BTC/USD", "side": "buy", "type": "limit", "amount": 2.0}
    known.learn("A", {"price": 0.0})
    assert known.get("A")["price"] == 0.0, "a zero is a fact, not a missing field"


def test_count_bound_drops_the_least_recently_seen() -> None:
    known = KnownOrders(lambda: 0, max_orders=2)
    for order_id in ("A", "B", "A", "C"):
        known.learn(order_id, OPEN)
    assert known.get("B") == {} and known.get("A") and known.get("C")


def test_sparse_update_of_an_expired_order_is_held_back() -> None:
    now = [0]
    n = Normaliser(AccountRef(ex_id=1, uid=1, venue="kraken"), {"BTC/USD"}, str, lambda: now[0])
    n.orders([{"id": "O1", "status": "open", **OPEN}], Source.REST)
    now[0] = 16 * 60 * 1000
    batch = n.orders([{"id": "O1", "status": "canceled", "filled": 0.0}], Source.WS)
    assert batch.held_back == 1 and not batch.envelopes


def test_a_final_orders_facts_are_kept_for_their_own_shorter_age_and_go_first_by_count() -> None:
    """An order whose final state was read keeps its facts only for a late update racing that
    read (``FINAL_AGE_MS``); an open order keeps them for ``MAX_AGE_MS``. ``expire`` applies both
    without a read, as the daemon's upkeep does at rest."""
    now = [0]
    known = KnownOrders(lambda: now[0], max_orders=3, max_age_ms=10_000, final_age_ms=1_000)
    known.learn("OPEN", OPEN)
    known.learn("DONE", {"status": "closed", **OPEN}, final=True)
    assert known.get("DONE")["type"] == "limit", "a late update racing the final read is completed"
    now[0] = 1_500
    known.expire()
    assert len(known) == 1 and known.get("OPEN") and known.get("DONE") == {}
    for order_id in ("F1", "F2"):
        known.learn(order_id, OPEN, final=True)
    known.learn("OPEN2", OPEN)
    assert len(known) == 3 and known.get("F1") == {}, "the count bound takes a final order first"
    assert known.get("OPEN") and known.get("OPEN2") and known.get("F2")


def test_the_normaliser_keeps_a_closed_orders_facts_apart_and_completes_a_late_update() -> None:
    now = [0]
    n = Normaliser(AccountRef(ex_id=1, uid=1, venue="hyperliquid"), {"BTC/USD"}, str, lambda: now[0])
    n.orders([{"id": "O1", "status": "closed", "filled": 1.0, **OPEN}], Source.REST)
    late = n.orders(
        [{"id": "O1", "status": "closed", "filled": 1.0, "symbol": "BTC/USD", "side": "buy"}], Source.WS
    )
    assert [e.payload.order_type for e in late.envelopes] == ["limit"], "the type REST read completes it"
    now[0] = 61_000
    n.expire()
    sparse = n.orders([{"id": "O1", "status": "closed", "filled": 1.0}], Source.WS)
    assert sparse.held_back == 1, "a minute after its final state, the order is forgotten"
