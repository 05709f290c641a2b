"""``tail``'s start points and filters, without Redis."""

from __future__ import annotations

import pytest

import factories
from fullon_account_service.cli.tail_format import Filters, start_id, summary
from fullon_account_service.contract import (
    BalanceSnapshot,
    CurrencyBalance,
    Envelope,
    Payload,
    Position,
    PositionSide,
    PositionSnapshot,
    Side,
    Source,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("now", None),
        ("NOW", None),
        ("0", "0-0"),
        ("1700000000000-5", "1700000000000-4"),
        ("1700000000000-0", f"1699999999999-{(1 << 64) - 1}"),
        ("1700000000", f"1699999999999-{(1 << 64) - 1}"),  # epoch seconds
        ("1700000000.5", f"1700000000499-{(1 << 64) - 1}"),
        ("1700000000000", f"1699999999999-{(1 << 64) - 1}"),  # epoch milliseconds
        ("2023-11-14T22:13:20Z", f"1699999999999-{(1 << 64) - 1}"),
        ("2023-11-14T22:13:20", f"1699999999999-{(1 << 64) - 1}"),  # naive is UTC
        ("2023-11-14T23:13:20+01:00", f"1699999999999-{(1 << 64) - 1}"),
    ],
)
def test_start_id_includes_the_given_point(value: str, expected: str | None) -> None:
    assert start_id(value) == expected


@pytest.mark.parametrize("value", ["yesterday", "-5", "12:00", ""])
def test_bad_start(value: str) -> None:
    with pytest.raises(ValueError, match="--from"):
        start_id(value)


def envelope(payload: Payload, ex_id: int = 1, exchange: str = "kraken") -> Envelope:
    return factories.envelope(
        payload, ex_id=ex_id, exchange=exchange, source=Source.REST, exchange_ms=None, received_ms=0
    )


FILL = envelope(
    factories.fill(
        "t", ex_order_id="o", side=Side.BUY, price=1.0, volume=2.0, time_ms=0, fee=0.1, fee_currency="USDT"
    )
)
POSITIONS = envelope(
    PositionSnapshot(positions=[Position(symbol="ETH/USDT:USDT", side=PositionSide.SHORT, volume=3.0)]),
    ex_id=2,
    exchange="bybit",
)
BALANCE = envelope(BalanceSnapshot(balances={"BTC": CurrencyBalance(total=1.0)}))


def test_filters() -> None:
    assert Filters().accepts(FILL)
    assert not Filters().active
    assert Filters(kinds=frozenset({"trade"})).accepts(FILL)
    assert not Filters(kinds=frozenset({"order"})).accepts(FILL)
    assert Filters(ex_ids=frozenset({2})).accepts(POSITIONS)
    assert not Filters(ex_ids=frozenset({2})).accepts(FILL)
    assert Filters(exchanges=frozenset({"bybit"})).accepts(POSITIONS)
    assert Filters(symbols=frozenset({"ETH/USDT:USDT"})).accepts(POSITIONS)
    assert Filters(symbols=frozenset({"BTC/USDT"})).accepts(FILL)
    assert not Filters(symbols=frozenset({"BTC/USDT"})).accepts(BALANCE)


def test_summaries() -> None:
    assert summary(FILL) == "buy 2 BTC/USDT @ 1 fee 0.1 USDT trade t"
    assert summary(POSITIONS) == "ETH/USDT:USDT short 3 @ ? upnl ?"
    assert summary(BALANCE) == "BTC total=1 free=? used=?"
