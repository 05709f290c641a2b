"""Kraken's history pages through the indexes give exactly what the plain scans gave.

``TradesHistory``, ``ClosedOrders`` and ``Ledgers`` find their window by bisecting the account's
time-ordered history (closed orders through ``FinalOrders``) and render only the page;
``OpenOrders`` reads the orders ``FinalOrders`` left open. Each is
checked here against the plain computation (the scan the handlers made before, kept in this file
as the reference) over a seeded scenario's history, with some orders hidden (the early-update
fault), at the window's edges (``start`` exclusive, ``end`` inclusive, by time or by id), at every
``ofs`` edge and for each ``closetime``; the index is built while the scenario runs, so orders
close after it first saw them open. The ccxt round trips in ``test_kraken.py`` check the wire.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kraken_helpers import kraken_sim, run_steps

from fullon_account_service.simulator.model import SimAccount, SimFill, SimOrder
from fullon_account_service.simulator.timeline import FinalOrders, TimeOrder, window_s
from fullon_account_service.simulator.venues.kraken import render
from fullon_account_service.simulator.venues.kraken.auth import TokenBook
from fullon_account_service.simulator.venues.kraken.markets import asset
from fullon_account_service.simulator.venues.kraken.rest import PAGE_SIZE, BadArguments, PrivateApi

Fields = dict[str, str]


def hidden(order_id: str) -> bool:
    return sum(order_id.encode()) % 5 == 0


def _bound(value: str | None, times: dict[str, float]) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        if value in times:
            return times[value]
        raise BadArguments(value) from None


def _in(t: float, start: float | None, end: float | None) -> bool:
    return (start is None or t > start) and (end is None or t <= end)


def _ofs(fields: Fields) -> int:
    return max(int(fields.get("ofs") or 0), 0)


class Reference:
    """The handlers as they were: every call scans the account's whole history."""

    def __init__(self, api: PrivateApi) -> None:
        self.api = api

    def trades_history(self, account: SimAccount, fields: Fields) -> Any:
        fills = [f for f in account.fills if not hidden(f.order_id)]
        times = {f.trade_id: f.ts_ms / 1000 for f in fills}
        start, end = _bound(fields.get("start"), times), _bound(fields.get("end"), times)
        chosen = [f for f in reversed(fills) if _in(f.ts_ms / 1000, start, end)]
        page = chosen[_ofs(fields) : _ofs(fields) + PAGE_SIZE]
        return {"trades": {f.trade_id: self.api._trade_row(account, f) for f in page}, "count": len(chosen)}

    def closed_orders(self, account: SimAccount, fields: Fields) -> Any:
        closed = [o for o in account.orders.values() if not hidden(o.order_id) and o.status != "open"]
        times = {o.order_id: o.updated_ms / 1000 for o in closed}
        start, end = _bound(fields.get("start"), times), _bound(fields.get("end"), times)
        which = fields.get("closetime", "both")

        def matches(o: SimOrder) -> bool:
            opened, closed_at = o.created_ms / 1000, o.updated_ms / 1000
            if which == "open":
                return _in(opened, start, end)
            if which == "close":
                return _in(closed_at, start, end)
            return _in(opened, start, end) or _in(closed_at, start, end)

        wanted = fields.get("cl_ord_id")
        chosen = sorted(
            (o for o in closed if matches(o) and (wanted is None or o.client_order_id == wanted)),
            key=lambda o: o.updated_ms,
            reverse=True,
        )
        fills: dict[str, list[SimFill]] = {}
        for fill in account.fills:
            fills.setdefault(fill.order_id, []).append(fill)
        market = self.api.world.market
        rows = [
            (
                o.order_id,
                render.order_row(o, market("kraken", o.symbol), fills.get(o.order_id, ())),
            )
            for o in chosen
        ]
        return {"closed": dict(rows[_ofs(fields) : _ofs(fields) + PAGE_SIZE]), "count": len(rows)}

    def open_orders(self, account: SimAccount, fields: Fields) -> Any:
        orders = [o for o in account.orders.values() if not hidden(o.order_id) and o.status == "open"]
        orders.sort(key=lambda o: o.created_ms, reverse=True)
        return {"open": self.api._order_rows(account, orders)}

    def ledgers(self, account: SimAccount, fields: Fields) -> Any:
        entries = account.ledger
        times = {e.entry_id: e.ts_ms / 1000 for e in entries}
        start, end = _bound(fields.get("start"), times), _bound(fields.get("end"), times)
        assets = {a for a in fields.get("asset", "all").split(",") if a and a != "all"}
        kind = fields.get("type", "all")
        chosen = [
            e
            for e in reversed(entries)
            if _in(e.ts_ms / 1000, start, end)
            and (not assets or e.currency in assets or asset(e.currency).asset_id in assets)
            and kind in ("all", e.raw_type)
        ]
        rows = [(e.entry_id, render.ledger_row(e)) for e in chosen]
        return {"ledger": dict(rows[_ofs(fields) : _ofs(fields) + PAGE_SIZE]), "count": len(rows)}


def _same(api: PrivateApi, ref: Reference, method: str, account: SimAccount, fields: Fields) -> None:
    """The indexed handler's answer is the reference's, or both refuse the fields."""
    got: Callable[[SimAccount, Fields], Any] = getattr(api, method)
    want: Callable[[SimAccount, Fields], Any] = getattr(ref, method)
    try:
        expected = want(account, fields)
    except BadArguments:
        with pytest.raises(BadArguments):
            got(account, fields)
        return
    assert got(account, fields) == expected, (method, fields)


def _windows(times: list[tuple[str, int]], rng: random.Random) -> Iterator[Fields]:
    """Windows whose edges fall on rows' own times and ids, and between them."""
    yield {}
    yield {"start": "", "end": ""}
    yield {"start": "not-an-id"}
    for ident, ts in rng.sample(times, min(6, len(times))):
        yield {"start": str(ts / 1000)}
        yield {"end": str(ts / 1000)}
        yield {"start": str((ts - 1) / 1000), "end": str(ts / 1000)}
        yield {"start": ident}
        yield {"end": ident}
        yield {"start": str(ts / 1000 - 30), "end": ident}
    yield {"end": str(10**15)}  # ccxt's milliseconds, read as seconds


def _pages(count: int) -> Iterator[str]:
    yield from ("", "0", "-3", "1", str(PAGE_SIZE), str(max(count - 1, 0)), str(count), str(count + 7))


def _check(api: PrivateApi, ref: Reference, account: SimAccount, rng: random.Random) -> int:
    checked = 0
    fill_times = [(f.trade_id, f.ts_ms) for f in account.fills if not hidden(f.order_id)]
    for window in _windows(fill_times, rng):
        for ofs in _pages(len(account.fills)):
            fields = {**window, "ofs": ofs}
            _same(api, ref, "trades_history", account, fields)
            checked += 1
    closed = [
        (o.order_id, o.updated_ms)
        for o in account.orders.values()
        if o.status != "open" and not hidden(o.order_id)
    ]
    opened = [
        (o.order_id, o.created_ms)
        for o in account.orders.values()
        if o.status != "open" and not hidden(o.order_id)
    ]
    client_ids = [o.client_order_id for o in account.orders.values() if o.client_order_id]
    for window in [*_windows(closed, rng), *_windows(opened, rng)]:
        for which in ("both", "open", "close"):
            for ofs in _pages(len(closed)):
                fields = {**window, "closetime": which, "ofs": ofs}
                _same(api, ref, "closed_orders", account, fields)
                checked += 1
    _same(api, ref, "open_orders", account, {})
    for cl_ord_id in client_ids[:2]:
        fields = {"cl_ord_id": cl_ord_id}
        _same(api, ref, "closed_orders", account, fields)
    entries = [(e.entry_id, e.ts_ms) for e in account.ledger]
    for window in _windows(entries, rng):
        for ofs in _pages(len(entries)):
            fields = {**window, "ofs": ofs}
            _same(api, ref, "ledgers", account, fields)
            checked += 1
    return checked


async def test_history_pages_are_the_plain_scans_pages() -> None:
    rng = random.Random(5)
    async with kraken_sim(seed=17, accounts=1) as (sim, clock):
        api = PrivateApi(sim.world, TokenBook(sim.world), lambda order_id: not hidden(order_id))
        ref = Reference(api)
        account = sim.world.accounts_of("kraken")[0]
        checked = 0
        for _ in range(4):  # the indexes grow while orders close after they were first seen open
            run_steps(sim, clock, 120, gap_ms=400)
            checked += _check(api, ref, account, rng)
        assert len(account.fills) > PAGE_SIZE + 10 and len(account.ledger) > 0
        assert any(hidden(o) for o in account.orders) and any(
            o.status == "open" for o in account.orders.values()
        )
        assert TimeOrder().holds(account.fills) and TimeOrder().holds(account.ledger)  # the bisected path
        assert checked > 1000


def _order(ident: str, created: int, updated: int, status: str = "closed") -> SimOrder:
    order = SimOrder(ident, "BTC/USD", "buy", "limit", 1.0, created, updated, price=1.0)
    order.status = status
    return order


def test_final_orders_keep_the_dict_order_on_equal_times_and_take_late_closes() -> None:
    orders = {o.order_id: o for o in (_order("a", 1, 5), _order("b", 2, 3, "open"), _order("c", 3, 5))}
    final = FinalOrders()
    assert [o.order_id for o in final.since(orders, None)] == ["a", "c"]  # equal times: dict order
    orders["b"].status, orders["b"].updated_ms = "canceled", 9
    orders["d"] = _order("d", 4, 4)
    assert [o.order_id for o in final.since(orders, None)] == ["b", "a", "c", "d"]
    assert [o.order_id for o in final.since(orders, 0.004)] == ["b", "a", "c"]  # start is exclusive
    assert [o.order_id for o in final.since(orders, 0.005)] == ["b"]
    assert final.since({}, None) == []


def test_a_window_of_rows_out_of_time_order_is_the_scan() -> None:
    def fill(ts: int) -> SimFill:
        return SimFill(f"T{ts}", "O1", "BTC/USD", "buy", 1.0, 1.0, 1.0, 0.0, "USD", True, ts)

    rows = [fill(ts) for ts in (5000, 1000, 3000, 2000, 4000)]
    assert not TimeOrder().holds(rows)
    assert [f.ts_ms for f in window_s(rows, 1.0, 4.0, False)] == [3000, 2000, 4000]
    ordered = sorted(rows, key=lambda f: f.ts_ms)
    assert [f.ts_ms for f in window_s(ordered, 1.0, 4.0, True)] == [2000, 3000, 4000]
    assert [f.ts_ms for f in window_s(ordered, None, 1.0, True)] == [1000]
    assert list(window_s(ordered, 4.0, 2.0, True)) == []
