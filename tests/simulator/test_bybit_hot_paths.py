"""The Bybit simulator's fast paths give exactly what the plain ones gave.

``/v5/execution/list`` walks back from the window's end instead of sorting every fill and funding
payment, the wallet reads an index of open orders instead of every order, and ``fmt`` skips
``Decimal`` when ``repr`` has no exponent. Each is checked here against the plain computation
(kept in this file as the reference) over a seeded scenario's history; the ccxt round trips in
``test_bybit.py`` check the wire as ccxt reads it.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from bybit_helpers import bybit_sim, markets_of, run
from hypothesis import given
from hypothesis import strategies as st

from fullon_account_service.simulator.model import Market, SimAccount, SimFill, SimLedgerEntry
from fullon_account_service.simulator.timeline import TimeOrder
from fullon_account_service.simulator.venues.bybit import render
from fullon_account_service.simulator.venues.bybit.executions import execution_page, newest_first
from fullon_account_service.simulator.venues.bybit.wallet import OpenOrders, wallet_entry

WEEK_MS = 7 * 24 * 3600 * 1000


def reference_page(
    account: SimAccount, markets: dict[str, Market], query: dict[str, str], now_ms: int
) -> Any:
    """Every execution in the window, sorted, then the page after the cursor (the plain way)."""
    cat = query["category"]
    start = int(query.get("startTime", now_ms - WEEK_MS))
    end = int(query.get("endTime", 2**62))
    exec_type, symbol, order_id = query.get("execType", ""), query.get("symbol"), query.get("orderId")
    rows: list[tuple[int, str, dict[str, Any]]] = []
    for f in account.fills:
        m = markets.get(f.symbol)
        if m is None or render.category(m) != cat or not start <= f.ts_ms <= end:
            continue
        if (exec_type and render.exec_type(f) != exec_type) or (symbol and m.venue_id != symbol):
            continue
        if not order_id or f.order_id == order_id:
            rows.append((f.ts_ms, f.trade_id, render.execution_row(f, m, account.orders.get(f.order_id))))
    if exec_type in ("", "Funding") and cat == "linear" and not order_id:
        for e in account.ledger:
            m = markets.get(e.symbol or "")
            if m is None or e.funding is None or not start <= e.ts_ms <= end:
                continue
            if not symbol or m.venue_id == symbol:
                rows.append((e.ts_ms, e.entry_id, render.funding_row(e, m)))
    rows.sort(key=lambda r: (r[0], r[1]), reverse=True)
    if query.get("cursor"):
        ts, _, ident = query["cursor"].partition("_")
        rows = [r for r in rows if (r[0], r[1]) < (int(ts), ident)]
    limit = min(int(query.get("limit", 50)), 100)
    page = rows[:limit]
    cursor = f"{page[-1][0]}_{page[-1][1]}" if len(rows) > limit and page else ""
    return {"category": cat, "list": [r[2] for r in page], "nextPageCursor": cursor}


def walk(account: SimAccount, markets: dict[str, Market], query: dict[str, str], now_ms: int) -> int:
    """Every page of ``query``, each compared with the reference; how many rows there were."""
    order, seen = TimeOrder(), 0
    for _ in range(10_000):
        got = execution_page(account, markets, query, now_ms, order)
        assert got == reference_page(account, markets, query, now_ms), query
        seen += len(got["list"])
        if not got["nextPageCursor"]:
            return seen
        query = {**query, "cursor": got["nextPageCursor"]}
    raise AssertionError("more than 10,000 pages")


async def test_execution_pages_are_the_full_sorts_pages() -> None:
    async with bybit_sim(seed=23, accounts=1) as (sim, clock):
        run(sim, clock, 900, gap_ms=250)  # 225 s: funding three times
        account, markets = sim.world.accounts_of("bybit")[0], markets_of(sim)
        assert any(e.funding for e in account.ledger) and len(account.fills) > 100
        order = TimeOrder()
        assert order.holds(account.fills) and order.holds(account.ledger)  # the walk, not the sort
        now = clock.ms
        perp = next(m.venue_id for m in markets.values() if m.kind == "swap")
        some_order = account.fills[len(account.fills) // 2].order_id
        middle = account.fills[len(account.fills) // 3].ts_ms
        queries: list[dict[str, str]] = [
            {"category": "linear"},
            {"category": "spot", "limit": "7"},
            {"category": "linear", "limit": "9", "execType": "Funding"},
            {"category": "linear", "limit": "11", "execType": "Trade", "symbol": perp},
            {"category": "linear", "limit": "5", "symbol": perp},
            {"category": "linear", "orderId": some_order},
            {"category": "spot", "orderId": some_order},
            {"category": "linear", "limit": "6", "startTime": str(middle), "endTime": str(now)},
            {"category": "linear", "limit": "4", "endTime": str(middle)},
        ]
        total = sum(walk(account, markets, q, now) for q in queries)
        assert total > len(account.fills)


def test_rows_out_of_time_order_are_sorted_per_call() -> None:
    """Should a list ever not rise in time, its rows still come newest first (the plain sort)."""
    rng = random.Random(3)
    rows = [
        SimLedgerEntry(f"L{i:04d}", "USDT", 1.0, "deposit", "x", rng.randrange(1000), 0.0) for i in range(300)
    ]
    order = TimeOrder()
    assert not order.holds(rows)
    key = lambda e: (e.ts_ms, e.entry_id)  # noqa: E731
    got = list(newest_first(rows, key, 100, 800, order.holds(rows)))
    assert got == sorted((e for e in rows if 100 <= e.ts_ms <= 800), key=key, reverse=True)


def test_time_order_is_checked_as_the_list_grows() -> None:
    def fill(ts: int) -> SimFill:
        return SimFill(f"T{ts}", "O1", "BTC/USDT", "buy", 1.0, 1.0, 1.0, 0.0, "USDT", True, ts)

    rows = [fill(ts) for ts in (1, 2, 3)]
    order = TimeOrder()
    assert order.holds(rows)
    rows.append(fill(5))
    assert order.holds(rows)
    rows.append(fill(4))
    assert not order.holds(rows)
    rows.append(fill(9))
    assert not order.holds(rows)


async def test_open_order_index_is_the_scan_of_open_orders() -> None:
    async with bybit_sim(seed=31, accounts=2) as (sim, clock):
        run(sim, clock, 150)
        index = OpenOrders(sim.world)
        index.attach()  # orders already open are taken from the accounts
        markets = markets_of(sim)
        try:
            for _ in range(8):
                run(sim, clock, 60)
                for account in sim.world.accounts_of("bybit"):
                    scanned = [o for o in account.orders.values() if o.status == "open"]
                    assert sorted(o.order_id for o in index.of(account)) == sorted(
                        o.order_id for o in scanned
                    )
                    assert wallet_entry(account, markets, ("USDT",), index.of(account)) == wallet_entry(
                        account, markets, ("USDT",)
                    )
        finally:
            index.detach()
        assert all(index not in a.listeners for a in sim.world.accounts)


def reference_fmt(value: float) -> str:
    text = format(Decimal(repr(float(value))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_fmt_is_the_decimal_reading(value: float) -> None:
    assert render.fmt(value) == reference_fmt(value)


def test_fmt_edges() -> None:
    for value in (0.0, -0.0, 1e-7, 1.5e16, 1e22, 123.0, -0.001, 5e-324, 2.0**60):
        assert render.fmt(value) == reference_fmt(value)
