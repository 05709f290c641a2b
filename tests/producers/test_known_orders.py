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
