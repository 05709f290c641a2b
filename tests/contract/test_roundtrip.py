"""Every event kind survives encode -> decode unchanged, whatever valid values it carries."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fullon_account_service.contract import (
    KIND_OF,
    BalanceSnapshot,
    CurrencyBalance,
    Envelope,
    LedgerEntry,
    LedgerReason,
    Liquidity,
    OrderStatus,
    OrderUpdate,
    Position,
    PositionSide,
    PositionSnapshot,
    Side,
    Source,
    TradeFill,
    decode,
    encode,
    envelope_of,
    validate,
)

amount = st.floats(min_value=0.0, max_value=1e300, allow_nan=False, allow_infinity=False)
signed = st.floats(min_value=-1e300, max_value=1e300, allow_nan=False, allow_infinity=False)
leverage = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)
millis = st.integers(min_value=0, max_value=2**53)
text = st.text(min_size=1, max_size=40)
currency = st.text(min_size=1, max_size=8)


def maybe(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.none() | strategy


balances = st.builds(
    BalanceSnapshot,
    balances=st.dictionaries(
        currency,
        st.builds(CurrencyBalance, total=maybe(amount), free=maybe(amount), used=maybe(amount)),
        max_size=5,
    ),
    partial=st.booleans(),
)
orders = st.builds(
    OrderUpdate,
    ex_order_id=text,
    symbol=text,
    side=st.sampled_from(Side),
    order_type=text,
    status=st.sampled_from(OrderStatus),
    client_order_id=maybe(text),
    price=maybe(amount),
    volume=maybe(amount),
    filled=maybe(amount),
    remaining=maybe(amount),
    average=maybe(amount),
    fee=maybe(amount),
    fee_currency=maybe(currency),
    leverage=maybe(leverage),
    reduce_only=maybe(st.booleans()),
    created_ms=maybe(millis),
    updated_ms=maybe(millis),
)
positions = st.builds(
    PositionSnapshot,
    positions=st.lists(
        st.builds(
            Position,
            symbol=text,
            side=st.sampled_from(PositionSide),
            volume=amount,
            entry_price=maybe(amount),
            mark_price=maybe(amount),
            leverage=maybe(leverage),
            unrealized_pnl=maybe(signed),
            liquidation_price=maybe(amount),
            margin=maybe(amount),
        ),
        max_size=4,
    ),
    partial=st.booleans(),
)
fills = st.builds(
    TradeFill,
    ex_trade_id=text,
    ex_order_id=text,
    symbol=text,
    side=st.sampled_from(Side),
    price=amount,
    volume=amount,
    cost=amount,
    time_ms=millis,
    fee=maybe(amount),
    fee_currency=maybe(currency),
    liquidity=maybe(st.sampled_from(Liquidity)),
    leverage=maybe(leverage),
    order_type=maybe(text),
)
ledger_entries = st.builds(
    LedgerEntry,
    ex_ledger_id=text,
    currency=currency,
    amount=signed,
    reason=st.sampled_from(LedgerReason),
    time_ms=millis,
    raw_type=maybe(text),
    symbol=maybe(text),
    balance_after=maybe(signed),
    fee=maybe(amount),
    fee_currency=maybe(currency),
)


@st.composite
def envelopes(draw: st.DrawFn, payloads: st.SearchStrategy[object]) -> Envelope:
    payload = draw(payloads)
    ex_id = draw(st.integers(min_value=0, max_value=2**31))
    exchange_ms = draw(maybe(millis))
    return envelope_of(
        payload,  # type: ignore[arg-type]
        ex_id=ex_id,
        uid=draw(st.integers(min_value=0, max_value=2**31)),
        exchange=draw(st.sampled_from(["kraken", "bybit", "hyperliquid"])),
        source=draw(st.sampled_from(Source)),
        received_ms=draw(millis),
        exchange_ms=exchange_ms,  # type: ignore[arg-type]
    )


def assert_round_trip(envelope: Envelope) -> None:
    data = encode(envelope)
    assert decode(data) == envelope
    assert validate(envelope) == envelope
    assert encode(decode(data)) == data


@given(envelopes(balances))
def test_balance_round_trip(envelope: Envelope) -> None:
    assert envelope.kind == "balance"
    assert_round_trip(envelope)


@given(envelopes(orders))
def test_order_round_trip(envelope: Envelope) -> None:
    assert envelope.kind == "order"
    assert_round_trip(envelope)


@given(envelopes(positions))
def test_position_round_trip(envelope: Envelope) -> None:
    assert envelope.kind == "position"
    assert_round_trip(envelope)


@given(envelopes(fills))
def test_trade_round_trip(envelope: Envelope) -> None:
    assert envelope.kind == "trade"
    assert_round_trip(envelope)


@given(envelopes(ledger_entries))
def test_ledger_round_trip(envelope: Envelope) -> None:
    assert envelope.kind == "ledger"
    assert_round_trip(envelope)


def test_every_kind_has_a_round_trip_test() -> None:
    tested = {BalanceSnapshot, OrderUpdate, PositionSnapshot, TradeFill, LedgerEntry}
    assert tested == set(KIND_OF)
