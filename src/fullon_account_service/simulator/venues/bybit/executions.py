"""Bybit v5 ``/v5/execution/list``: fills and funding payments, newest first, one page per call.

The producer reads this page after fills, so it is one of the simulator's busiest endpoints, and
an account's fills and ledger only grow over a run. Both are in time order (``timeline``), so a
page is found by bisecting to the window's end (or the cursor) and walking back until the page is
full, and only that page's rows are rendered: a call costs the page, not the account's history.
Should a list ever fall out of time order, it is sorted per call as before, with the same rows and
cursor.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from typing import Any, TypeVar

from aiohttp import web

from fullon_account_service.simulator.model import Market, SimAccount, SimFill, SimLedgerEntry
from fullon_account_service.simulator.timeline import Timed, TimeOrder
from fullon_account_service.simulator.venues.bybit import render
from fullon_account_service.simulator.venues.bybit.auth import WORLD, signed
from fullon_account_service.simulator.venues.bybit.rest import (
    category_param,
    cursor_key,
    json_result,
    page_of,
    venue_markets,
    window,
)

Execution = tuple[int, str, Callable[[], dict[str, Any]]]
"""(time, id, row builder) of one execution: a fill or a funding payment."""


R = TypeVar("R", bound=Timed)


TIME_ORDER: web.AppKey[TimeOrder] = web.AppKey("bybit_time_order")


def _ts(row: Timed) -> int:
    return row.ts_ms


def newest_first(
    rows: Sequence[R], key: Callable[[R], tuple[int, str]], start: int, end: int, in_order: bool
) -> Iterator[R]:
    """The rows with ``start <= ts_ms <= end``, newest first by ``key`` (time, id); ``in_order``:
    ``rows`` rise strictly in time, so time order is key order and the window is bisected."""
    if not in_order:
        yield from sorted((r for r in rows if start <= r.ts_ms <= end), key=key, reverse=True)
        return
    i = bisect_right(rows, end, key=_ts)
    while i > 0 and rows[i - 1].ts_ms >= start:
        i -= 1
        yield rows[i]


def _key(entry: Execution) -> tuple[int, str]:
    return entry[0], entry[1]


def _fill_key(fill: SimFill) -> tuple[int, str]:
    return fill.ts_ms, fill.trade_id


def _entry_key(entry: SimLedgerEntry) -> tuple[int, str]:
    return entry.ts_ms, entry.entry_id


def execution_page(
    account: SimAccount, markets: dict[str, Market], query: Any, now_ms: int, order: TimeOrder
) -> dict[str, Any]:
    """The ``result`` of one ``/v5/execution/list`` call."""
    cat = category_param(query, ("linear", "spot", "inverse", "option"))
    start, end = window(query, now_ms)
    after = cursor_key(query)
    if after is not None:
        end = min(end, after[0])  # nothing newer than the cursor can be on the page
    exec_type, symbol, order_id = query.get("execType", ""), query.get("symbol"), query.get("orderId")

    def fill_rows() -> Iterator[Execution]:
        for fill in newest_first(account.fills, _fill_key, start, end, order.holds(account.fills)):
            market = markets.get(fill.symbol)
            if (
                market is None
                or render.category(market) != cat
                or (exec_type and render.exec_type(fill) != exec_type)
                or (symbol and market.venue_id != symbol)
                or (order_id and fill.order_id != order_id)
            ):
                continue
            made = partial(render.execution_row, fill, market, account.orders.get(fill.order_id))
            yield fill.ts_ms, fill.trade_id, made

    def funding_rows() -> Iterator[Execution]:
        if exec_type not in ("", "Funding") or cat != "linear" or order_id:
            return
        for entry in newest_first(account.ledger, _entry_key, start, end, order.holds(account.ledger)):
            market = markets.get(entry.symbol or "")
            if market is None or entry.funding is None or (symbol and market.venue_id != symbol):
                continue
            yield entry.ts_ms, entry.entry_id, partial(render.funding_row, entry, market)

    rows: Iterable[Execution] = heapq.merge(fill_rows(), funding_rows(), key=_key, reverse=True)
    page, cursor = page_of(rows, _key, query, "execution")
    return {"category": cat, "list": [make() for _, _, make in page], "nextPageCursor": cursor}


@signed
async def executions(request: web.Request, account: SimAccount) -> web.Response:
    now_ms, order = request.app[WORLD].now_ms(), request.app[TIME_ORDER]
    return json_result(request, execution_page(account, venue_markets(request), request.query, now_ms, order))


def add_routes(app: web.Application) -> None:
    app[TIME_ORDER] = TimeOrder()
    app.router.add_get("/v5/execution/list", executions)


__all__ = ["TIME_ORDER", "add_routes", "execution_page", "newest_first"]
