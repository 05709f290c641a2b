"""Balance explained, the pure part: cash flows of fills and entries, windows between clear anchors.

The hypothesis tests take their balances from the simulator's own ledger (``explain_history``),
an arithmetic written apart from ``ledger.cashflow``: every window of a random history explains to
zero, and a history with one fill or entry missing, or one amount wrong, does not.
"""

from __future__ import annotations

import msgspec
import pytest
from explain_history import BAND_MS, Action, History, simulate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fullon_account_service.ledger.cashflow import Flow, entry_flows, fill_flows
from fullon_account_service.ledger.entries import LedgerRecord
from fullon_account_service.ledger.explain import Anchor, Window, clear_anchors, explain
from fullon_account_service.ledger.fills import Fill


def _fill(trade_id: str, symbol: str, side: str, volume: float, price: float, **extra: object) -> Fill:
    values: dict[str, object] = {"fee": None, "fee_currency": None, "time_ms": int(trade_id) * 1000}
    values.update(extra)
    return Fill(
        ex_id=1,
        uid=1,
        exchange="x",
        ex_trade_id=trade_id,
        ex_order_id=f"o{trade_id}",
        symbol=symbol,
        side=side,
        volume=volume,
        price=price,
        cost=volume * price,
        **values,  # type: ignore[arg-type]
    )


def _sum(flows: list[Flow], currency: str) -> float:
    return sum(f.amount for f in flows if f.currency == currency)


def test_spot_buy_moves_base_in_and_quote_out_with_the_fee_where_charged() -> None:
    flows = fill_flows([_fill("1", "BTC/USD", "buy", 2.0, 100.0, fee=0.5, fee_currency="USD")])
    assert _sum(flows, "BTC") == 2.0
    assert _sum(flows, "USD") == -200.5


def test_kraken_fee_stated_in_quote_is_taken_from_base_for_an_fcib_order() -> None:
    fill = _fill("1", "BTC/USD", "sell", 1.0, 100.0, fee=0.26, fee_currency="USD")
    flows = fill_flows([fill], fee_in_base={"o1"})
    assert _sum(flows, "BTC") == pytest.approx(-1.0026)
    assert _sum(flows, "USD") == 100.0


def test_perp_realises_at_the_average_entry_not_fifo_and_a_flip_reopens_at_the_fill_price() -> None:
    fills = [
        _fill("1", "BTC/USDT:USDT", "buy", 1.0, 100.0),
        _fill("2", "BTC/USDT:USDT", "buy", 1.0, 200.0),
        _fill("3", "BTC/USDT:USDT", "sell", 1.0, 180.0),  # avg 150: +30 (FIFO would say +80)
        _fill("4", "BTC/USDT:USDT", "sell", 2.0, 160.0),  # closes 1 at +10, opens a short of 1 at 160
        _fill("5", "BTC/USDT:USDT", "buy", 1.0, 150.0, fee=0.1),  # short closed: +10, fee 0.1
    ]
    flows = fill_flows(fills)
    assert [f.amount for f in flows if f.currency == "USDT"] == pytest.approx([30.0, 10.0, 10.0, -0.1])
    assert {f.currency for f in flows} == {"USDT"}


def test_a_ledger_entry_moves_its_currency_and_its_fee_separately() -> None:
    entry = LedgerRecord(
        ex_id=1,
        uid=1,
        exchange="x",
        ex_ledger_id="w1",
        currency="BTC",
        amount=-1.0,
        reason="withdrawal",
        time_ms=5,
        fee=10.0,
        fee_currency="USDT",
    )
    assert entry_flows([entry]) == [Flow(5, "BTC", -1.0, "ledger w1"), Flow(5, "USDT", -10.0, "ledger w1")]


def test_an_anchor_a_flow_comes_near_is_not_used() -> None:
    anchors = [Anchor(1_000, 1.0), Anchor(5_000, 2.0), Anchor(9_000, 3.0), Anchor(9_000, 3.5)]
    assert clear_anchors(anchors, [4_500], band_ms=1_000) == [Anchor(1_000, 1.0)]
    assert clear_anchors(anchors, [], band_ms=0) == [Anchor(1_000, 1.0), Anchor(5_000, 2.0)]


def test_a_window_counts_the_flows_after_its_start_up_to_its_end() -> None:
    flows = [Flow(2_000, "USD", 5.0, "fill a"), Flow(4_000, "USD", -1.0, "fill b")]
    anchors = [Anchor(1_000, 10.0), Anchor(3_000, 15.0), Anchor(5_000, 14.0)]
    windows = explain({"USD": anchors}, flows, band_ms=0)
    assert [(w.t0_ms, w.t1_ms, w.explained, w.ok) for w in windows] == [
        (1_000, 3_000, 5.0, True),
        (3_000, 5_000, -1.0, True),
    ]
    wrong = explain({"USD": [Anchor(1_000, 10.0), Anchor(3_000, 16.0)]}, flows, band_ms=0)
    assert [w.remainder for w in wrong] == [pytest.approx(1.0)]


# -- hypothesis: the simulator's balances explain to zero, damaged data does not -------------------

_SPOT = st.builds(
    Action,
    kind=st.just("spot"),
    symbol=st.sampled_from(["BTC/USDT", "ETH/USDT"]),
    side=st.sampled_from(["buy", "sell"]),
    amount=st.floats(0.001, 2.0),
    price=st.floats(1_000.0, 70_000.0),
    fee_in_base=st.booleans(),
)
_PERP = st.builds(
    Action,
    kind=st.just("perp"),
    symbol=st.sampled_from(["BTC/USDT:USDT", "ETH/USDT:USDT"]),
    side=st.sampled_from(["buy", "sell"]),
    amount=st.floats(0.001, 5.0),
    price=st.floats(1_000.0, 70_000.0),
)
_CASH = st.builds(
    Action,
    kind=st.sampled_from(["deposit", "withdraw", "transfer", "other"]),
    side=st.sampled_from(["buy", "sell"]),
    currency=st.sampled_from(["USDT", "BTC"]),
    amount=st.floats(0.01, 50.0),
)
_OTHER = st.builds(
    Action,
    kind=st.sampled_from(["funding", "liquidate", "price"]),
    symbol=st.sampled_from(["BTC/USDT:USDT", "ETH/USDT:USDT"]),
    price=st.floats(1_000.0, 70_000.0),
)
ACTIONS = st.lists(st.one_of(_SPOT, _PERP, _CASH, _OTHER), min_size=1, max_size=40)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _windows(history: History) -> list[Window]:
    flows = fill_flows(history.fills) + entry_flows(history.entries)
    return explain(history.anchors, flows, band_ms=BAND_MS)


@SETTINGS
@given(ACTIONS)
def test_every_window_of_a_simulated_history_explains_to_zero(actions: list[Action]) -> None:
    windows = _windows(simulate(actions))
    assert windows
    assert [w for w in windows if not w.ok] == []


def _damaged(history: History, data: st.DataObject) -> History:
    facts = [("fill", i) for i in range(len(history.fills))]
    # An entry that moves nothing (a liquidation's row: its fills moved the balance) explains
    # nothing, so neither its absence nor a wrong amount can show.
    facts += [("entry", i) for i, e in enumerate(history.entries) if e.amount or e.fee]
    kind, index = data.draw(st.sampled_from(facts))
    how = data.draw(st.sampled_from(["missing", "wrong"]))
    fills, entries = list(history.fills), list(history.entries)
    if kind == "fill" and how == "missing":
        del fills[index]
    elif kind == "fill":
        fills[index] = msgspec.structs.replace(fills[index], fee=(fills[index].fee or 0.0) + 0.01)
    elif how == "missing":
        del entries[index]
    else:
        entries[index] = msgspec.structs.replace(entries[index], amount=entries[index].amount * 1.5)
    return History(fills, entries, history.anchors)


@SETTINGS
@given(ACTIONS, st.data())
def test_a_missing_or_wrong_fill_or_entry_leaves_a_remainder(
    actions: list[Action], data: st.DataObject
) -> None:
    history = simulate(actions)
    if not history.fills and not history.entries:
        return
    windows = _windows(_damaged(history, data))
    assert [w for w in windows if not w.ok]
