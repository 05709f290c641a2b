"""Normalisers on ccxt-shaped dicts: unknown stays unknown, bad data is dead-lettered, never raised."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from fullon_account_service.contract import OrderStatus, PositionSide, Source
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.normalise import Normaliser

MARKETS = {"BTC/USD", "BTC/USDT:USDT", "BTC/USDC:USDC"}


def _norm(venue: str = "kraken") -> Normaliser:
    return Normaliser(
        AccountRef(ex_id=7, uid=1, venue=venue), MARKETS, lambda c: {"XXBT": "BTC"}.get(c, c), lambda: 1
    )


def _trade(**kw: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": "T1",
        "order": "O1",
        "symbol": "BTC/USD",
        "side": "buy",
        "price": 60000.0,
        "amount": 0.5,
        "cost": 30000.0,
        "timestamp": 1_700_000_000_000,
        "fee": {"cost": 1.5, "currency": "USD"},
        "takerOrMaker": "taker",
        "type": "limit",
    }
    row.update(kw)
    return row


def test_trade_round_trip_and_same_id_over_ws_and_rest() -> None:
    n = _norm()
    rest = n.trades([_trade()], Source.REST)
    ws = n.trades([_trade(fee=None, takerOrMaker=None)], Source.WS)
    assert len(rest.envelopes) == 1 and not rest.dead
    assert rest.envelopes[0].event_id == ws.envelopes[0].event_id
    assert ws.envelopes[0].payload.fee is None  # type: ignore[union-attr]


def test_bad_trades_are_dead_lettered_with_reasons() -> None:
    rows = [
        _trade(price=float("nan")),
        _trade(amount=-1.0),
        _trade(symbol="DOGE/XYZ"),
        _trade(order=None),
        "not a dict",
    ]
    batch = _norm().trades(rows, Source.REST)
    assert batch.envelopes == []
    reasons = " | ".join(d.reason for d in batch.dead)
    for needle in ("not finite", "negative", "unknown symbol", "order is missing", "not an object"):
        assert needle in reasons


def test_negative_fee_is_unknown_not_zero() -> None:
    batch = _norm().trades([_trade(fee={"cost": -0.2, "currency": "USD"})], Source.REST)
    fill = batch.envelopes[0].payload
    assert fill.fee is None  # type: ignore[union-attr]


def test_sparse_order_update_completed_from_earlier_facts() -> None:
    n = _norm()
    first = {
        "id": "O1",
        "symbol": "BTC/USD",
        "side": "sell",
        "type": "limit",
        "amount": 1.0,
        "price": 61000.0,
        "status": "open",
        "filled": 0.0,
    }
    sparse = {"id": "O1", "status": "closed", "filled": 1.0}
    unknown = {"id": "O2", "status": "open", "filled": 0.5}
    n.orders([first], Source.REST)
    batch = n.orders([sparse, unknown], Source.WS)
    assert batch.held_back == 1 and len(batch.envelopes) == 1
    order = batch.envelopes[0].payload
    assert order.side.value == "sell" and order.status is OrderStatus.CLOSED and order.price == 61000.0  # type: ignore[union-attr]


def test_bybit_partially_filled_canceled_is_canceled() -> None:
    row = {
        "id": "O9",
        "symbol": "BTC/USDT:USDT",
        "side": "buy",
        "type": "limit",
        "amount": 2.0,
        "filled": 1.0,
        "status": "closed",
        "info": {"orderStatus": "PartiallyFilledCanceled"},
    }
    batch = _norm("bybit").orders([row], Source.REST)
    assert batch.envelopes[0].payload.status is OrderStatus.CANCELED  # type: ignore[union-attr]


def test_kraken_ws_balance_total_only_completed_when_unchanged() -> None:
    n = _norm()
    n.rest_balances(
        {
            "BTC": {"total": 1.0, "free": 0.75, "used": 0.25},
            "USD": {"total": 100.0, "free": 90.0, "used": 10.0},
        }
    )
    msg = {
        "info": {
            "channel": "balances",
            "data": [{"asset": "BTC", "balance": 1.0}, {"asset": "USD", "balance": 95.0}],
        }
    }
    batch = n.ws_balances(msg)
    snap = batch.envelopes[0].payload
    assert snap.partial  # type: ignore[union-attr]
    assert snap.balances["BTC"].free == 0.75  # type: ignore[union-attr]
    usd = snap.balances["USD"]  # type: ignore[union-attr]
    assert usd.total == 95.0 and usd.free is None and usd.used is None


def test_bybit_ws_balance_uses_wallet_balance_not_equity() -> None:
    msg = {
        "info": [
            {
                "accountType": "UNIFIED",
                "coin": [
                    {
                        "coin": "USDT",
                        "equity": "1001",
                        "walletBalance": "1000",
                        "availableToWithdraw": "",
                        "locked": "0",
                        "totalPositionIM": "60.3",
                        "totalOrderIM": "6.03",
                    }
                ],
            }
        ]
    }
    snap = _norm("bybit").ws_balances(msg).envelopes[0].payload
    usdt = snap.balances["USDT"]  # type: ignore[union-attr]
    assert (
        usdt.total == 1000.0 and math.isclose(usdt.used or 0, 66.33) and math.isclose(usdt.free or 0, 933.67)
    )


def test_hyperliquid_balance_is_wallet_on_rest_and_ws() -> None:
    state = {
        "marginSummary": {"accountValue": "1010", "totalMarginUsed": "60"},
        "withdrawable": "950",
        "assetPositions": [{"type": "oneWay", "position": {"coin": "BTC", "unrealizedPnl": "10"}}],
    }
    n = _norm("hyperliquid")
    rest = n.rest_balances({"info": state, "USDC": {"total": 1010.0, "free": 950.0, "used": 60.0}})
    ws = n.ws_balances({"info": state})
    for batch in (rest, ws):
        assert not batch.envelopes and not batch.dead, "the spot wallet, maybe holding USDC, is unread"
    spot = {"balances": [{"coin": "HYPE", "hold": "1", "total": "5"}]}
    after_spot = n.rest_balances({"info": spot, "HYPE": {"total": 5.0, "free": 4.0, "used": 1.0}})
    assert not after_spot.envelopes[0].payload.partial  # type: ignore[union-attr]
    for batch in (after_spot, n.ws_balances({"info": state})):
        payload = batch.envelopes[0].payload
        usdc = payload.balances["USDC"]  # type: ignore[union-attr]
        assert (usdc.total, usdc.used, usdc.free) == (1000.0, 60.0, 940.0)
        assert not payload.partial  # type: ignore[union-attr]


def test_hyperliquid_usdc_is_published_only_as_the_sum_of_both_wallets() -> None:
    """USDC sits in the perp account and in the spot wallet: until both are read, no total of
    it is published (one wallet's USDC alone would look like the account's and is not)."""
    perp = {"marginSummary": {"accountValue": "110000", "totalMarginUsed": "0"}, "assetPositions": []}
    spot = {"balances": [{"coin": "USDC", "hold": "0", "total": "5500"}]}
    n = _norm("hyperliquid")
    assert not n.ws_balances({"info": perp}).envelopes
    totals = [
        e.payload.balances["USDC"].total  # type: ignore[union-attr]
        for batch in (
            n.rest_balances({"info": spot, "USDC": {"total": 5500.0, "free": 5500.0, "used": 0.0}}),
            n.ws_balances({"info": perp}),
        )
        for e in batch.envelopes
    ]
    assert totals == [115500.0, 115500.0]


def test_malformed_ws_balance_is_dead_lettered() -> None:
    assert _norm("bybit").ws_balances({"info": "garbage"}).dead
    assert _norm("kraken").ws_balances({"info": {"data": [{"asset": "BTC", "balance": "NaN"}]}}).dead


def test_positions_flat_and_partial() -> None:
    rows = [
        {"symbol": "BTC/USDT:USDT", "side": "long", "contracts": 0.5, "entryPrice": 60000.0, "leverage": 10},
        {"symbol": "BTC/USDT:USDT", "side": None, "contracts": 0.0},
    ]
    batch = _norm("bybit").positions(rows, Source.WS, complete=False)
    snap = batch.envelopes[0].payload
    assert snap.partial and [p.side for p in snap.positions] == [PositionSide.LONG, PositionSide.FLAT]  # type: ignore[union-attr]
    complete = _norm("bybit").positions(rows[:1], Source.REST, complete=True).envelopes[0].payload
    assert not complete.partial  # type: ignore[union-attr]


@settings(deadline=None)  # a loaded machine is no bug: this test is about raising, not speed
@given(
    st.dictionaries(
        st.text(max_size=8), st.one_of(st.none(), st.floats(), st.text(max_size=5), st.integers())
    )
)
def test_normaliser_never_raises(row: dict[str, object]) -> None:
    n = _norm()
    for batch in (
        n.trades([row], Source.WS),
        n.orders([row], Source.WS),
        n.positions([row], Source.WS, complete=False),
    ):
        assert len(batch.envelopes) + len(batch.dead) + batch.held_back <= 1
    n.ws_balances({"info": row})
    n.rest_balances(row)
