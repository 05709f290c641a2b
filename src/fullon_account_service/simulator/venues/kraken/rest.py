"""Kraken's private REST account endpoints (``POST /0/private/<Method>``) over the world state.

Paging follows Kraken: ``ClosedOrders`` and ``TradesHistory`` return at most 50 rows, newest
first, with ``count`` = all matches and ``ofs`` to page; ``start`` is exclusive and ``end``
inclusive, both unix seconds (or an order/trade id). ccxt sends ``ClosedOrders.end`` in
milliseconds; Kraken reads it as seconds (far future), and so does this simulator.
``OpenOrders`` ignores ``start`` (not one of its parameters) and ccxt filters locally.
``Ledgers`` pages the same way over the ledger entries that are not trades.

A page is found through the account's history indexes (``timeline``: bisected windows, closed
orders by last update, fills by order) and only its rows are rendered, so a request costs its
window and page, not the account's whole history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from aiohttp import web

from fullon_account_service.simulator import wire
from fullon_account_service.simulator.model import SimAccount, SimFill, SimOrder, World
from fullon_account_service.simulator.signers import client_of
from fullon_account_service.simulator.timeline import (
    FillsByOrder,
    FinalOrders,
    TimeOrder,
    in_window,
    window_s,
)
from fullon_account_service.simulator.venues.kraken import render
from fullon_account_service.simulator.venues.kraken.auth import (
    INVALID_ARGUMENTS,
    TOKEN_TTL_S,
    Authenticator,
    AuthFailure,
    TokenBook,
)
from fullon_account_service.simulator.venues.kraken.markets import asset

PAGE_SIZE = 50
Fields = dict[str, str]
Method = Callable[[SimAccount, Fields], Any]


T = TypeVar("T")


class BadArguments(Exception):
    """Request fields Kraken would refuse with ``EGeneral:Invalid arguments``."""


def ok(result: Any) -> web.Response:
    return wire.json_response({"error": [], "result": result})


def error(message: str, status: int = 200) -> web.Response:
    """Kraken answers most API errors with HTTP 200 and the reason in ``error``."""
    return web.json_response({"error": [message]}, status=status)


def _bound(value: str | None, times: Callable[[], dict[str, float]]) -> float | None:
    """A ``start``/``end`` value: unix seconds, or the time of the order/trade with that id
    (``times`` is called only then: it reads the whole history)."""
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        found = times().get(value)
        if found is None:
            raise BadArguments(value) from None
        return found


def _page_of(rows: Sequence[T], fields: Fields) -> Sequence[T]:
    """The ``ofs`` page of ``rows``."""
    try:
        ofs = int(fields.get("ofs") or 0)
    except ValueError:
        raise BadArguments("ofs") from None
    return rows[max(ofs, 0) : max(ofs, 0) + PAGE_SIZE]


def _client_filter(orders: Iterable[SimOrder], fields: Fields) -> list[SimOrder]:
    wanted = fields.get("cl_ord_id")
    if fields.get("userref"):
        return []  # nothing in the simulator carries a numeric userref
    return [o for o in orders if wanted is None or o.client_order_id == wanted]


class PrivateApi:
    """The account's view as Kraken's private endpoints render it."""

    def __init__(self, world: World, tokens: TokenBook, visible: Callable[[str], bool]) -> None:
        self.world = world
        self.tokens = tokens
        self.visible = visible
        self._time_order = TimeOrder()
        self._final = FinalOrders()
        self._fills_of = FillsByOrder()
        self.methods: dict[str, Method] = {
            "Balance": self.balance,
            "BalanceEx": self.balance_ex,
            "OpenOrders": self.open_orders,
            "ClosedOrders": self.closed_orders,
            "QueryOrders": self.query_orders,
            "TradesHistory": self.trades_history,
            "QueryTrades": self.query_trades,
            "OpenPositions": self.open_positions,
            "Ledgers": self.ledgers,
            "QueryLedgers": self.query_ledgers,
            "DepositStatus": lambda account, fields: self.funding_status(account, fields, "deposit"),
            "WithdrawStatus": lambda account, fields: self.funding_status(account, fields, "withdrawal"),
            "GetWebSocketsToken": self.websockets_token,
        }

    def _orders(self, account: SimAccount) -> list[SimOrder]:
        return [o for o in account.orders.values() if self.visible(o.order_id)]

    def _fills(self, account: SimAccount) -> list[SimFill]:
        return [f for f in account.fills if self.visible(f.order_id)]

    def _order_rows(self, account: SimAccount, orders: Iterable[SimOrder]) -> dict[str, dict[str, Any]]:
        fills = self._fills_of.of(account.fills)
        return {
            o.order_id: render.order_row(o, self.world.market("kraken", o.symbol), fills(o.order_id))
            for o in orders
        }

    def _trade_row(self, account: SimAccount, fill: SimFill) -> dict[str, Any]:
        order = account.orders.get(fill.order_id)
        order_type = order.order_type if order is not None else "limit"
        return render.trade_row(fill, self.world.market("kraken", fill.symbol), order_type)

    def balance(self, account: SimAccount, fields: Fields) -> Any:
        return render.balance(account.balances)

    def balance_ex(self, account: SimAccount, fields: Fields) -> Any:
        return render.balance_ex(account.balances)

    def open_orders(self, account: SimAccount, fields: Fields) -> Any:
        orders = [o for o in self._final.still_open(account.orders) if self.visible(o.order_id)]
        orders.sort(key=lambda o: o.created_ms, reverse=True)
        return {"open": self._order_rows(account, _client_filter(orders, fields))}

    def closed_orders(self, account: SimAccount, fields: Fields) -> Any:
        def times() -> dict[str, float]:
            closed = self._final.since(account.orders, None)
            return {o.order_id: o.updated_ms / 1000 for o in closed if self.visible(o.order_id)}

        start, end = _bound(fields.get("start"), times), _bound(fields.get("end"), times)
        which = fields.get("closetime", "both")

        def matches(o: SimOrder) -> bool:
            opened, closed_at = o.created_ms / 1000, o.updated_ms / 1000
            if which == "open":
                return in_window(opened, start, end)
            if which == "close":
                return in_window(closed_at, start, end)
            return in_window(opened, start, end) or in_window(closed_at, start, end)

        # Opened or closed after ``start`` both mean updated after it: the index's window.
        recent = self._final.since(account.orders, start)
        chosen = [o for o in _client_filter(recent, fields) if matches(o) and self.visible(o.order_id)]
        return {"closed": self._order_rows(account, _page_of(chosen, fields)), "count": len(chosen)}

    def query_orders(self, account: SimAccount, fields: Fields) -> Any:
        ids = [i for i in fields.get("txid", "").split(",") if i]
        if not ids:
            raise BadArguments("txid")
        known = {o.order_id: o for o in self._orders(account)}
        found = self._order_rows(account, [known[i] for i in ids if i in known])
        if len(found) != len(ids):
            raise BadArguments("txid")
        return found

    def trades_history(self, account: SimAccount, fields: Fields) -> Any:
        def times() -> dict[str, float]:
            return {f.trade_id: f.ts_ms / 1000 for f in self._fills(account)}

        start, end = _bound(fields.get("start"), times), _bound(fields.get("end"), times)
        fills = window_s(account.fills, start, end, self._time_order.holds(account.fills))
        chosen = [f for f in reversed(fills) if self.visible(f.order_id)]
        page = {f.trade_id: self._trade_row(account, f) for f in _page_of(chosen, fields)}
        return {"trades": page, "count": len(chosen)}

    def query_trades(self, account: SimAccount, fields: Fields) -> Any:
        ids = {i for i in fields.get("txid", "").split(",") if i}
        found = {f.trade_id: self._trade_row(account, f) for f in self._fills(account) if f.trade_id in ids}
        if not ids or len(found) != len(ids):
            raise BadArguments("txid")
        return found

    def ledgers(self, account: SimAccount, fields: Fields) -> Any:
        """Non-trade ledger entries (trades are in ``TradesHistory``), newest first, filtered by
        ``asset`` (REST ids or codes, comma-separated), ``type`` and the ``start``/``end`` window."""
        entries = account.ledger

        def times() -> dict[str, float]:
            return {e.entry_id: e.ts_ms / 1000 for e in entries}

        start, end = _bound(fields.get("start"), times), _bound(fields.get("end"), times)
        assets = {a for a in fields.get("asset", "all").split(",") if a and a != "all"}
        kind = fields.get("type", "all")
        chosen = [
            e
            for e in reversed(window_s(entries, start, end, self._time_order.holds(entries)))
            if (not assets or e.currency in assets or asset(e.currency).asset_id in assets)
            and kind in ("all", e.raw_type)
        ]
        page = _page_of(chosen, fields)
        return {"ledger": {e.entry_id: render.ledger_row(e) for e in page}, "count": len(chosen)}

    def query_ledgers(self, account: SimAccount, fields: Fields) -> Any:
        ids = {i for i in fields.get("id", "").split(",") if i}
        found = {e.entry_id: render.ledger_row(e) for e in account.ledger if e.entry_id in ids}
        if not ids or len(found) != len(ids):
            raise BadArguments("id")
        return found

    def funding_status(self, account: SimAccount, fields: Fields, reason: str) -> Any:
        """Deposits or withdrawals, newest first, by ``asset`` and the ``start``/``end`` window."""
        start, end = _bound(fields.get("start"), dict), _bound(fields.get("end"), dict)
        wanted = fields.get("asset")
        return [
            render.funding_status_row(e)
            for e in reversed(account.ledger)
            if e.reason == reason
            and in_window(e.ts_ms / 1000, start, end)
            and (not wanted or wanted in (e.currency, asset(e.currency).asset_id))
        ]

    def open_positions(self, account: SimAccount, fields: Fields) -> Any:
        """Spot accounts hold no margin positions: ``[]`` consolidated, ``{}`` per position."""
        return [] if fields.get("consolidation") == "market" else {}

    def websockets_token(self, account: SimAccount, fields: Fields) -> Any:
        return {"token": self.tokens.issue(account), "expires": TOKEN_TTL_S}


def rate_limited(retry_after_s: float) -> web.Response:
    """Kraken's API-counter refusal (ccxt: ``DDoSProtection``, matched on the body first)."""
    return error("EAPI:Rate limit exceeded", status=429)


def unavailable() -> web.Response:
    return error("EService:Unavailable", status=503)


def routes(
    world: World, auth: Authenticator, tokens: TokenBook, visible: Callable[[str], bool]
) -> list[web.RouteDef]:
    api = PrivateApi(world, tokens, visible)

    async def private(request: web.Request) -> web.Response:
        method = api.methods.get(request.match_info["method"])
        if method is None:
            return error("EGeneral:Unknown method", status=404)
        body = await request.read()
        try:
            account = auth.check(
                request.path, request.headers.get("API-Key"), request.headers.get("API-Sign"), body
            )
        except AuthFailure as e:
            return error(str(e))
        world.signers.signed(account.api_key, client_of(request), world.now_ms())
        fields = dict(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))
        try:
            return ok(method(account, fields))
        except BadArguments:
            return error(INVALID_ARGUMENTS)

    return [web.post("/0/private/{method}", private)]
