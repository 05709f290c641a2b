"""``POST /info`` (account and metadata queries keyed by wallet address) and ``POST /exchange``.

The venue answers a body it cannot read with HTTP 422 and a plain-text deserialisation message,
an unknown address with empty state (never an auth error), and an action signed by a key it does
not know with ``{"status": "err", "response": "User or API Wallet 0x... does not exist."}``.
Lists are capped like the venue's: the newest 2000 historical orders and fills,
``userFillsByTime`` the first 2000 from ``startTime`` (the venue's paging contract), ``userFunding``
and ``userNonFundingLedgerUpdates`` the first 500 (see ``cash``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from fullon_account_service.simulator import wire
from fullon_account_service.simulator.model import SimAccount, SimOrder, World
from fullon_account_service.simulator.venues.hyperliquid import auth, cash, markets, render

VENUE = "hyperliquid"
PAGE = render.PAGE
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_DESERIALIZE = "Failed to deserialize the JSON body into the target type"
_OK_ACTIONS = frozenset({"approveBuilderFee", "setReferrer"})

Visible = Callable[[SimOrder], bool]


@dataclass(frozen=True, slots=True)
class Ctx:
    world: World
    visible: Visible
    """Whether REST lists an order yet (the early-order-update fault hides new ones briefly)."""


InfoHandler = Callable[[Ctx, dict[str, Any]], Any]


class BadRequest(ValueError):
    """The request does not deserialize; the venue answers 422 with this text."""


def _unprocessable(detail: str) -> web.Response:
    return web.Response(status=422, text=f"{_DESERIALIZE}: {detail}", content_type="text/plain")


def _user(body: dict[str, Any]) -> str:
    user = body.get("user")
    if not isinstance(user, str) or not _ADDRESS.match(user):
        raise BadRequest("missing or invalid field `user`")
    return user


def _account(ctx: Ctx, body: dict[str, Any]) -> SimAccount | None:
    return ctx.world.account_by_wallet(VENUE, _user(body))


def _orders(ctx: Ctx, body: dict[str, Any]) -> list[SimOrder]:
    account = _account(ctx, body)
    if account is None:
        return []
    known = markets.by_symbol(ctx.world)
    return [o for o in account.orders.values() if o.symbol in known and ctx.visible(o)]


def _frontend_open_orders(ctx: Ctx, body: dict[str, Any]) -> Any:
    known = markets.by_symbol(ctx.world)
    rows = [o for o in _orders(ctx, body) if o.status == "open"]
    rows.sort(key=lambda o: o.created_ms, reverse=True)
    return [render.frontend_order(o, known[o.symbol]) for o in rows]


def _open_orders(ctx: Ctx, body: dict[str, Any]) -> Any:
    keep = ("coin", "side", "limitPx", "sz", "oid", "timestamp", "origSz", "cloid")
    return [{k: row[k] for k in keep if k in row} for row in _frontend_open_orders(ctx, body)]


def _historical_orders(ctx: Ctx, body: dict[str, Any]) -> Any:
    known = markets.by_symbol(ctx.world)
    rows = sorted(_orders(ctx, body), key=lambda o: o.updated_ms, reverse=True)
    return [render.historical_order(o, known[o.symbol]) for o in rows[:PAGE]]


def _order_status(ctx: Ctx, body: dict[str, Any]) -> Any:
    known = markets.by_symbol(ctx.world)
    wanted = str(body.get("oid"))
    for order in _orders(ctx, body):
        if wanted in (order.order_id, order.client_order_id):
            return {"status": "order", "order": render.historical_order(order, known[order.symbol])}
    return {"status": "unknownOid"}


def _fills(ctx: Ctx, body: dict[str, Any]) -> list[dict[str, Any]]:
    account = _account(ctx, body)
    return render.fill_rows(account, markets.by_symbol(ctx.world)) if account else []


def _user_fills(ctx: Ctx, body: dict[str, Any]) -> Any:
    return list(reversed(_fills(ctx, body)))[:PAGE]


def _window(ctx: Ctx, body: dict[str, Any]) -> tuple[int, int]:
    start, end = body.get("startTime"), body.get("endTime")
    if not isinstance(start, int):
        raise BadRequest("missing field `startTime`")
    return start, end if isinstance(end, int) else ctx.world.now_ms()


def _user_fills_by_time(ctx: Ctx, body: dict[str, Any]) -> Any:
    start, stop = _window(ctx, body)
    return [row for row in _fills(ctx, body) if start <= row["time"] <= stop][:PAGE]


def _user_funding(ctx: Ctx, body: dict[str, Any]) -> Any:
    start, end = _window(ctx, body)
    return [cash.funding_row(e) for e in cash.in_window(cash.fundings(_account(ctx, body)), start, end)]


def _user_non_funding_ledger_updates(ctx: Ctx, body: dict[str, Any]) -> Any:
    start, end = _window(ctx, body)
    account = _account(ctx, body)
    if account is None:
        return []
    return [cash.ledger_row(e, account) for e in cash.in_window(cash.non_funding(account), start, end)]


def _clearinghouse_state(ctx: Ctx, body: dict[str, Any]) -> Any:
    if body.get("dex"):
        raise BadRequest("unknown dex")
    return render.clearinghouse_state(_account(ctx, body), markets.by_symbol(ctx.world), ctx.world.now_ms())


def _spot_clearinghouse_state(ctx: Ctx, body: dict[str, Any]) -> Any:
    return render.spot_state(_account(ctx, body))


def _user_abstraction(ctx: Ctx, body: dict[str, Any]) -> Any:
    _user(body)
    return "default"


def _meta_and_asset_ctxs(ctx: Ctx, body: dict[str, Any]) -> Any:
    if body.get("dex"):
        raise BadRequest("unknown dex")
    return markets.meta_and_asset_ctxs(ctx.world)


INFO: dict[str, InfoHandler] = {
    "meta": lambda ctx, body: markets.meta_and_asset_ctxs(ctx.world)[0],
    "metaAndAssetCtxs": _meta_and_asset_ctxs,
    "spotMeta": lambda ctx, body: markets.spot_meta(),
    "spotMetaAndAssetCtxs": lambda ctx, body: markets.spot_meta_and_asset_ctxs(),
    "perpDexs": lambda ctx, body: markets.perp_dexs(),
    "exchangeStatus": lambda ctx, body: {"specialStatuses": None, "time": ctx.world.now_ms()},
    "userAbstraction": _user_abstraction,
    "clearinghouseState": _clearinghouse_state,
    "spotClearinghouseState": _spot_clearinghouse_state,
    "frontendOpenOrders": _frontend_open_orders,
    "openOrders": _open_orders,
    "historicalOrders": _historical_orders,
    "orderStatus": _order_status,
    "userFills": _user_fills,
    "userFillsByTime": _user_fills_by_time,
    "userFunding": _user_funding,
    "userNonFundingLedgerUpdates": _user_non_funding_ledger_updates,
}


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.text())
    except ValueError as e:
        raise BadRequest("expected value") from e
    if not isinstance(body, dict):
        raise BadRequest("invalid type: expected struct")
    return body


def info_route(ctx: Ctx) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def info(request: web.Request) -> web.StreamResponse:
        try:
            body = await _json_body(request)
            handler = INFO.get(str(body.get("type")))
            if handler is None:
                raise BadRequest(f"unknown variant `{body.get('type')}`")
            return wire.json_response(handler(ctx, body))
        except BadRequest as e:
            return _unprocessable(str(e))

    return info


def exchange_route(world: World) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def exchange(request: web.Request) -> web.StreamResponse:
        try:
            body = await _json_body(request)
            signer = auth.recover_signer(body)
        except (BadRequest, auth.SignatureError) as e:
            return _unprocessable(str(e))
        if signer not in auth.known_signers(world, VENUE):
            return web.json_response(
                {"status": "err", "response": f"User or API Wallet {signer} does not exist."}
            )
        action_type = body["action"]["type"]
        if action_type in _OK_ACTIONS:
            return web.json_response({"status": "ok", "response": {"type": "default"}})
        return web.json_response({"status": "err", "response": f"Action {action_type} is not simulated."})

    return exchange


def add_routes(app: web.Application, world: World, visible: Visible) -> None:
    app.router.add_post("/info", info_route(Ctx(world, visible)))
    app.router.add_post("/exchange", exchange_route(world))
