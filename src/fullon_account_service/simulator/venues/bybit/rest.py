"""Bybit v5 account endpoints: wallet balance, open and historical orders, positions (executions
are in ``executions``).

Behaves like the venue where ccxt can see it: lists are newest first, one page per call with the
venue's default and maximum ``limit``, ``nextPageCursor`` for the next page (``""`` on the last),
history and executions limited to a 7-day window (``startTime``/``endTime``; the last 7 days when
neither is given, the 7 days after ``startTime`` when only it is given; a longer range is refused),
``orderStatus`` and ``symbol``/``settleCoin`` filters. ``/v5/order/realtime`` lists open orders,
and with ``orderId``/``orderLinkId`` (or ``openOnly=1``) closed ones too among the category's 500
most recent orders: what ccxt's ``fetch_order`` reads. Missing or contradictory
parameters get the venue's 10001 refusal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from typing import Any, TypeVar

from aiohttp import web

from fullon_account_service.simulator import wire
from fullon_account_service.simulator.model import Market, SimAccount, SimOrder
from fullon_account_service.simulator.venues.bybit import render, wallet
from fullon_account_service.simulator.venues.bybit.auth import CLOCK, WORLD, BybitError, signed

DAY_MS = 24 * 3600 * 1000
WEEK_MS = 7 * DAY_MS
_FOREVER_MS = 2**62
RECENT_CLOSED = 500
_LIMITS = {
    "realtime": (20, 50),
    "history": (20, 50),
    "execution": (50, 100),
    "position": (20, 200),
    "transaction-log": (20, 50),
    "asset-record": (50, 50),
}

T = TypeVar("T")


class Visibility:
    """Orders REST does not list yet (the early-order-update fault), until a wall-clock time."""

    def __init__(self) -> None:
        self._hidden_until: dict[str, int] = {}

    def hide(self, order_id: str, until_ms: int) -> None:
        self._hidden_until[order_id] = until_ms

    def hidden(self, order_id: str, now_ms: int) -> bool:
        until = self._hidden_until.get(order_id)
        if until is None:
            return False
        if now_ms >= until:
            del self._hidden_until[order_id]
            return False
        return True


VISIBILITY: web.AppKey[Visibility] = web.AppKey("bybit_visibility")


def venue_markets(request: web.Request) -> dict[str, Market]:
    return {m.symbol: m for m in request.app[WORLD].markets.get("bybit", [])}


def params_error(detail: str) -> BybitError:
    return BybitError(10001, f"params error: {detail}")


def int_param(query: Any, name: str) -> int | None:
    value = query.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise params_error(f"{name} invalid") from None


def category_param(query: Any, allowed: Sequence[str]) -> str:
    cat = str(query.get("category", ""))
    if cat not in allowed:
        raise params_error("Category is invalid")
    return cat


def window(query: Any, now_ms: int, span_ms: int = WEEK_MS, default_ms: int | None = None) -> tuple[int, int]:
    """``startTime``/``endTime`` as the venue reads them: at most ``span_ms`` apart (7 days for
    orders, executions and the transaction log, 30 for deposit and withdrawal records); a missing
    bound is ``default_ms`` (``span_ms`` unless given; the transaction log's is 24 h) from the other."""
    start, end = int_param(query, "startTime"), int_param(query, "endTime")
    default = span_ms if default_ms is None else default_ms
    if start is None:
        # Neither: the last span, up to whatever exists; only an end: the span before it.
        return (now_ms - default, _FOREVER_MS) if end is None else (end - default, end)
    if end is None:
        return start, start + default
    if end < start or end - start > span_ms:
        days = span_ms // DAY_MS
        raise params_error(f"The time range between startTime and endTime cannot exceed {days} days")
    return start, end


def paginate(
    items: list[T], key: Callable[[T], tuple[int, str]], query: Any, kind: str
) -> tuple[list[T], str]:
    """Newest first, one page; the cursor is the (time, id) of the page's last row, so rows that
    arrive between calls never shift the next page."""
    return page_of(sorted(items, key=key, reverse=True), key, query, kind)


def cursor_key(query: Any) -> tuple[int, str] | None:
    """The (time, id) the ``cursor`` asks to continue below, if any."""
    cursor = str(query.get("cursor", ""))
    if not cursor:
        return None
    ts, _, ident = cursor.partition("_")
    try:
        return int(ts), ident
    except ValueError:
        raise params_error("cursor invalid") from None


def page_of(
    newest_first: Iterable[T], key: Callable[[T], tuple[int, str]], query: Any, kind: str
) -> tuple[list[T], str]:
    """``paginate`` over rows already newest first: reads at most one row past the page."""
    default, maximum = _LIMITS[kind]
    limit = min(max(int_param(query, "limit") or default, 1), maximum)
    after = cursor_key(query)
    rows = newest_first if after is None else (i for i in newest_first if key(i) < after)
    taken = list(islice(rows, limit + 1))
    page = taken[:limit]
    last = key(page[-1]) if page else None
    return page, (f"{last[0]}_{last[1]}" if len(taken) > limit and last else "")


def json_result(request: web.Request, result: dict[str, Any]) -> web.Response:
    return wire.json_response(render.ok_body(result, request.app[WORLD].now_ms()))


def _orders_in(request: web.Request, account: SimAccount, cat: str) -> list[tuple[SimOrder, Market]]:
    query, markets = request.query, venue_markets(request)
    visibility, now = request.app[VISIBILITY], request.app[CLOCK]()
    out: list[tuple[SimOrder, Market]] = []
    for order in account.orders.values():
        market = markets.get(order.symbol)
        if market is None or render.category(market) != cat or visibility.hidden(order.order_id, now):
            continue
        if query.get("symbol") and market.venue_id != query["symbol"]:
            continue
        if query.get("settleCoin") and market.settle != query["settleCoin"]:
            continue
        if query.get("baseCoin") and market.base != query["baseCoin"]:
            continue
        if query.get("orderId") and order.order_id != query["orderId"]:
            continue
        if query.get("orderLinkId") and order.client_order_id != query["orderLinkId"]:
            continue
        out.append((order, market))
    return out


def _order_key(pair: tuple[SimOrder, Market]) -> tuple[int, str]:
    return pair[0].created_ms, pair[0].order_id


def _order_page(
    request: web.Request, pairs: list[tuple[SimOrder, Market]], cat: str, kind: str
) -> web.Response:
    page, cursor = paginate(pairs, _order_key, request.query, kind)
    rows = [render.order_row(o, m) for o, m in page]
    return json_result(request, {"category": cat, "list": rows, "nextPageCursor": cursor})


@signed
async def wallet_balance(request: web.Request, account: SimAccount) -> web.Response:
    account_type = request.query.get("accountType", "")
    if account_type != "UNIFIED":
        raise params_error("accountType only support UNIFIED")
    opened = request.app[wallet.OPEN_ORDERS].of(account)
    entry = wallet.wallet_entry(account, venue_markets(request), open_orders=opened)
    wanted = [c for c in request.query.get("coin", "").split(",") if c]
    if wanted:
        entry["coin"] = [row for row in entry["coin"] if row["coin"] in wanted]
    return json_result(request, {"list": [entry]})


@signed
async def open_orders(request: web.Request, account: SimAccount) -> web.Response:
    query = request.query
    cat = category_param(query, ("linear", "spot", "inverse", "option"))
    if cat == "linear" and not (query.get("symbol") or query.get("settleCoin") or query.get("baseCoin")):
        raise params_error("symbol, settleCoin or baseCoin is required")
    pairs = _orders_in(request, account, cat)
    if query.get("orderId") or query.get("orderLinkId") or query.get("openOnly") in ("1", "2"):
        # Closed orders too, among the category's most recent ones (fetch_order's route).
        recent = sorted(pairs, key=_order_key, reverse=True)[:RECENT_CLOSED]
        pairs = [p for p in pairs if p[0].status == "open" or p in recent]
    else:
        pairs = [p for p in pairs if p[0].status == "open"]
    return _order_page(request, pairs, cat, "realtime")


@signed
async def order_history(request: web.Request, account: SimAccount) -> web.Response:
    query = request.query
    cat = category_param(query, ("linear", "spot", "inverse", "option"))
    start, end = window(query, request.app[WORLD].now_ms())
    status = query.get("orderStatus", "")
    pairs = [
        (o, m)
        for o, m in _orders_in(request, account, cat)
        if start <= o.created_ms <= end and (not status or render.order_status(o, m) == status)
    ]
    return _order_page(request, pairs, cat, "history")


@signed
async def positions(request: web.Request, account: SimAccount) -> web.Response:
    query = request.query
    cat = category_param(query, ("linear", "inverse", "option"))
    symbol, settle = query.get("symbol", ""), query.get("settleCoin", "")
    if cat == "linear" and not (symbol or settle or query.get("baseCoin")):
        raise params_error("symbol or settleCoin is required")
    now = request.app[WORLD].now_ms()
    markets = [m for m in venue_markets(request).values() if m.kind == "swap" and m.settle == m.quote]
    pairs: list[tuple[Market, Any]] = []
    for market in markets if cat == "linear" else []:
        pos = account.positions.get(market.symbol)
        if symbol:
            if market.venue_id == symbol:
                pairs.append((market, pos))  # asked by symbol: the venue shows it even when flat
        elif (
            pos is not None
            and (not settle or market.settle == settle)
            and (not query.get("baseCoin") or market.base == query["baseCoin"])
        ):
            pairs.append((market, pos))
    page, cursor = paginate(
        pairs, lambda p: (p[1].updated_ms if p[1] else now, p[0].venue_id), query, "position"
    )
    rows = [render.position_row(m, p, now) for m, p in page]
    return json_result(request, {"category": cat, "list": rows, "nextPageCursor": cursor})


def add_routes(app: web.Application) -> None:
    app[VISIBILITY] = Visibility()
    app.router.add_get("/v5/account/wallet-balance", wallet_balance)
    app.router.add_get("/v5/order/realtime", open_orders)
    app.router.add_get("/v5/order/history", order_history)
    app.router.add_get("/v5/position/list", positions)
