"""FIFO PnL against a reference that cannot share its bugs.

The reference expands every position into a queue of 1/64-unit slices, each carrying its entry
price and its share of the opening fee, and closes slice by slice. Quantities are drawn on that
grid (and prices on a 1/16 grid) so the reference is exact and any difference is the engine's.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from fullon_account_service.ledger.checkpoint import StoredFill, restore
from fullon_account_service.ledger.fifo import FifoBook, PnlRow, compute, sort_key
from fullon_account_service.ledger.fills import Fill

UNIT = 64
SYMBOL = "BTC/USDT:USDT"


def engine_fill(
    ex_trade_id: str,
    ex_order_id: str,
    time_ms: int,
    side: str,
    volume: float,
    price: float,
    fee: float | None = None,
    fee_currency: str | None = None,
    leverage: float | None = None,
) -> Fill:
    """A fill with what the engine reads; the account fields it ignores are fixed."""
    return Fill(
        ex_id=1,
        uid=1,
        exchange="test",
        ex_trade_id=ex_trade_id,
        ex_order_id=ex_order_id,
        symbol=SYMBOL,
        side=side,
        volume=volume,
        price=price,
        cost=volume * price,
        time_ms=time_ms,
        fee=fee,
        fee_currency=fee_currency,
        leverage=leverage,
    )


@dataclass(frozen=True)
class Drawn:
    fill: Fill
    units: int  # quantity moved, in 1/64 slices


def reference(drawn: list[Drawn]) -> list[PnlRow]:
    queue: list[tuple[float, float]] = []  # (entry price, fee carried by this slice)
    side = 0
    rows = []
    for item in sorted(drawn, key=lambda d: sort_key(d.fill)):
        f = item.fill
        d = 1 if f.side == "buy" else -1
        fee = f.fee or 0.0
        currency = (f.fee_currency or "USDT").upper()
        if currency == "BTC":
            fee_q = fee * f.price
        elif currency == "USDT":
            fee_q = fee
        else:
            fee_q = 0.0
        share = fee_q / item.units if item.units else 0.0
        closed: list[tuple[float, float]] = []
        for _ in range(item.units):
            if queue and side == -d:
                closed.append(queue.pop(0))
            else:
                queue.append((f.price, share))
                side = d
        if not queue:
            side = 0
        closing_fee = share * len(closed) if item.units else fee_q
        gross = sum(-d * (f.price - p) / UNIT for p, _ in closed)
        carried = sum(c for _, c in closed)
        roi = gross - carried - closing_fee
        closed_cost = sum(p / UNIT for p, _ in closed)
        lev = f.leverage or 1.0
        cost = sum(p / UNIT for p, _ in queue)
        rows.append(
            PnlRow(
                cur_volume=side * len(queue) / UNIT,
                cur_avg_price=cost / (len(queue) / UNIT) if queue else 0.0,
                cur_avg_cost=cost,
                cur_fee=sum(c for _, c in queue),
                roi=roi,
                roi_pct=roi / (closed_cost / lev) * 100 if closed else 0.0,
                total_fee=carried + closing_fee,
            )
        )
    return rows


@st.composite
def fills(draw: st.DrawFn) -> list[Drawn]:
    n = draw(st.integers(1, 40))
    out = []
    for i in range(n):
        side = draw(st.sampled_from(["buy", "sell"]))
        vol = draw(st.integers(1, 8 * UNIT))
        price = draw(st.integers(16, 3200)) / 16
        kind = draw(st.sampled_from(["none", "quote", "base", "other", "unknown"]))
        fee: float | None = None
        currency: str | None = None
        units = vol
        if kind == "quote":
            fee, currency = draw(st.floats(0, 5, allow_nan=False)), "USDT"
        elif kind == "unknown":
            fee = draw(st.floats(0, 5, allow_nan=False))
        elif kind == "other":
            fee, currency = draw(st.floats(0, 5, allow_nan=False)), "BNB"
        elif kind == "base":
            fee_units = draw(st.integers(0, vol))
            fee, currency = fee_units / UNIT, "btc"
            units = vol - fee_units if side == "buy" else vol + fee_units
        fill = engine_fill(
            ex_trade_id=f"t{i:03d}",
            ex_order_id=f"o{draw(st.integers(0, 3))}",
            time_ms=draw(st.integers(0, 20)),
            side=side,
            volume=vol / UNIT,
            price=price,
            fee=fee,
            fee_currency=currency,
            leverage=draw(st.sampled_from([None, 1.0, 2.0, 5.0, 12.5])),
        )
        out.append(Drawn(fill, units))
    return out


def assert_rows_equal(got: list[PnlRow], want: list[PnlRow]) -> None:
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        for name in PnlRow.__slots__:
            a, b = getattr(g, name), getattr(w, name)
            assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (i, name, a, b)


@settings(max_examples=300, deadline=None)
@given(fills(), st.randoms(use_true_random=False))
def test_fifo_matches_unit_queue_reference(drawn: list[Drawn], rnd: random.Random) -> None:
    shuffled = drawn[:]
    rnd.shuffle(shuffled)
    got = [row for _, row in compute(SYMBOL, [d.fill for d in shuffled])]
    assert_rows_equal(got, reference(drawn))


@settings(max_examples=200, deadline=None)
@given(fills(), st.data())
def test_restore_from_stored_rows_continues_identically(drawn: list[Drawn], data: st.DataObject) -> None:
    full = compute(SYMBOL, [d.fill for d in drawn])
    k = data.draw(st.integers(0, len(full)))
    stored = [StoredFill(f, row.cur_volume) for f, row in full[:k]][::-1]
    book = restore(SYMBOL, stored, exhausted=True)
    assert book is not None
    # A truncated history either says it needs more rows or already gives the same book.
    cut = data.draw(st.integers(0, len(stored)))
    partial = restore(SYMBOL, stored[:cut], exhausted=cut == len(stored))
    if partial is not None:
        assert math.isclose(partial.volume, book.volume, rel_tol=1e-9, abs_tol=1e-12)
    rest = [row for _, row in compute(SYMBOL, [f for f, _ in full[k:]], book)]
    assert_rows_equal(rest, [row for _, row in full[k:]])


def test_flip_splits_fee_and_books_close() -> None:
    book = FifoBook("ETH/USD")
    book.apply(engine_fill("1", "a", 1, "buy", 2.0, 100.0, fee=2.0, fee_currency="USD"))
    row = book.apply(engine_fill("2", "b", 2, "sell", 3.0, 110.0, fee=3.0, fee_currency="USD", leverage=2.0))
    # closes 2 @ 100 -> +20, minus opening fee 2 and 2/3 of the closing fee 3
    assert row.roi == 20.0 - 2.0 - 2.0
    assert row.total_fee == 4.0
    assert row.roi_pct == 16.0 / (200.0 / 2.0) * 100
    assert (row.cur_volume, row.cur_avg_price, row.cur_avg_cost, row.cur_fee) == (-1.0, 110.0, 110.0, 1.0)


def test_base_fee_changes_quantity_not_price() -> None:
    book = FifoBook("BTC/USDT")
    row = book.apply(engine_fill("1", "a", 1, "buy", 1.0, 50.0, fee=0.01, fee_currency="BTC"))
    assert (row.cur_volume, row.cur_avg_price, row.cur_fee) == (0.99, 50.0, 0.5)
    row = book.apply(engine_fill("2", "a", 2, "sell", 0.98, 60.0, fee=0.01, fee_currency="BTC"))
    assert row.cur_volume == 0.0
    assert math.isclose(row.roi, 0.99 * 10.0 - 0.5 - 0.6)
