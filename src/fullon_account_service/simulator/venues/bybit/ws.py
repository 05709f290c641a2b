"""Bybit v5 private stream (``/v5/private``): auth op, topic subscriptions, JSON ping/pong, pushes.

After ``{"op":"auth"}`` succeeds the socket listens to its account; every ``Change`` the ledger
emits is rendered at once (so the row shows the state of that moment) and posted to the socket's
``FaultyPush``, whose writer task sends in order (and applies drops, damage, duplicates and
reordering when faults ask for them), so the ledger never waits on a client. Acks and pongs go out
directly. Topics: ``order``, ``execution``, ``execution.fast``, ``position``, ``wallet`` and their
``.spot``/``.linear`` variants. Nothing is pushed on subscribe: like the venue, these topics only
carry changes.

``FaultHooks`` rolls the per-event faults once per event for all sockets of the venue: a fill kept
off the stream (REST still has it) and a new order pushed while REST hides it for a second.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import weakref
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from fullon_account_service.simulator.faults import FaultDice, FaultyPush
from fullon_account_service.simulator.model import (
    BalancesChanged,
    Change,
    FillAdded,
    LedgerAdded,
    OrderChanged,
    PositionChanged,
    SimAccount,
    World,
)
from fullon_account_service.simulator.venues.bybit import render, wallet
from fullon_account_service.simulator.venues.bybit.auth import (
    CLOCK,
    WORLD,
    Clock,
    authenticate_ws,
    ws_auth_failure,
)
from fullon_account_service.simulator.venues.bybit.rest import VISIBILITY, Visibility

TOPICS = ("order", "execution", "execution.fast", "position", "wallet")
EARLY_ORDER_HIDE_MS = 1000
Sockets = weakref.WeakSet[web.WebSocketResponse]
SOCKETS: web.AppKey[Sockets] = web.AppKey("bybit_sockets")
_conn_ids = itertools.count(1)


def _valid(topic: str) -> bool:
    base, _, cat = topic.rpartition(".") if topic.endswith((".spot", ".linear")) else (topic, "", "")
    return base in TOPICS and (not cat or base != "wallet")


class FaultHooks:
    """Venue-wide listener, registered before any socket's, deciding per-event faults once."""

    def __init__(self, world: World, visibility: Visibility, clock: Clock) -> None:
        self.world = world
        self.visibility = visibility
        self.clock = clock
        self.dice = FaultDice(world, "bybit|events")
        self.rest_only_fills: set[str] = set()
        self._seen_orders: set[str] = set()

    def __call__(self, account: SimAccount, change: Change) -> None:
        if isinstance(change, FillAdded) and self.dice.rest_only_fill():
            self.rest_only_fills.add(change.fill.trade_id)
        elif isinstance(change, OrderChanged) and change.order.order_id not in self._seen_orders:
            self._seen_orders.add(change.order.order_id)
            if self.dice.early_order_update():
                self.visibility.hide(change.order.order_id, self.clock() + EARLY_ORDER_HIDE_MS)

    def attach(self) -> None:
        for account in self.world.accounts_of("bybit"):
            account.listeners.insert(0, self)

    def detach(self) -> None:
        for account in self.world.accounts_of("bybit"):
            if self in account.listeners:
                account.listeners.remove(self)


HOOKS: web.AppKey[FaultHooks] = web.AppKey("bybit_fault_hooks")


class PrivateSession:
    """One private socket: its auth state and topics; pushes go through ``push``."""

    def __init__(self, push: FaultyPush, app: web.Application) -> None:
        self.push = push
        self.world = app[WORLD]
        self.clock = app[CLOCK]
        self.hooks = app[HOOKS]
        self.open_orders = app[wallet.OPEN_ORDERS]
        self.conn_id = f"sim{next(_conn_ids):06d}-bybit"
        self.account: SimAccount | None = None
        self.topics: set[str] = set()
        self._seq = itertools.count(1)
        self._markets = {m.symbol: m for m in self.world.markets.get("bybit", [])}

    def _post(self, topic: str, cat: str | None, data: list[dict[str, Any]]) -> None:
        for name in (topic, f"{topic}.{cat}" if cat else ""):
            if name and name in self.topics:
                message = {
                    "id": f"{self.conn_id}-{next(self._seq)}",
                    "topic": name,
                    "creationTime": self.world.now_ms(),
                    "data": data,
                }
                self.push.post(message)

    def on_change(self, account: SimAccount, change: Change) -> None:
        """Ledger listener: render now, send later (never blocks the ledger)."""
        if isinstance(change, OrderChanged):
            market = self._markets.get(change.order.symbol)
            if market is not None:
                row = render.order_row(change.order, market, with_category=True)
                self._post("order", render.category(market), [row])
        elif isinstance(change, FillAdded):
            market = self._markets.get(change.fill.symbol)
            if market is not None and change.fill.trade_id not in self.hooks.rest_only_fills:
                order = account.orders.get(change.fill.order_id)
                row = render.execution_row(change.fill, market, order, with_category=True)
                self._post("execution", render.category(market), [row])
                self._post("execution.fast", render.category(market), [_fast(row)])
        elif isinstance(change, LedgerAdded) and change.entry.symbol is not None:
            market = self._markets.get(change.entry.symbol)
            if market is not None and change.entry.funding is not None:
                self._post(
                    "execution", "linear", [render.funding_row(change.entry, market, with_category=True)]
                )
        elif isinstance(change, PositionChanged):
            market = self._markets.get(change.symbol)
            if market is not None and market.kind == "swap":
                pos = account.positions.get(change.symbol)
                row = render.position_row(market, pos, self.world.now_ms(), with_category=True)
                self._post("position", "linear", [row])
        elif isinstance(change, BalancesChanged):
            opened = self.open_orders.of(account)
            entry = wallet.wallet_entry(account, self._markets, change.currencies, opened)
            self._post("wallet", None, [entry])

    async def handle(self, request: dict[str, Any]) -> None:
        op = str(request.get("op", ""))
        reply: dict[str, Any] = {"op": op, "conn_id": self.conn_id}
        if request.get("req_id") is not None:
            reply["req_id"] = str(request["req_id"])
        args = request.get("args")
        args = args if isinstance(args, list) else []
        if op == "ping":
            await self.push.send_raw({**reply, "op": "pong", "args": [str(self.clock())]})
        elif op == "auth":
            await self.push.send_raw(self._auth(args, reply))
        elif op in ("subscribe", "unsubscribe"):
            await self.push.send_raw(self._subscribe(op, [str(a) for a in args], reply))
        else:
            await self.push.send_raw({"success": False, "ret_msg": f"error:invalid op {op}", **reply})

    def _auth(self, args: list[Any], reply: dict[str, Any]) -> dict[str, Any]:
        if self.account is None:
            outcome = authenticate_ws(args, self.world, self.clock)
            if isinstance(outcome, str):
                return {**ws_auth_failure(outcome), **reply}
            self.account = outcome
            outcome.listeners.append(self.on_change)
        return {"success": True, "ret_msg": "", **reply}

    def _subscribe(self, op: str, topics: list[str], reply: dict[str, Any]) -> dict[str, Any]:
        if self.account is None:
            return {"success": False, "ret_msg": "Request not authorized", **reply}
        bad = [t for t in topics if not _valid(t)]
        if bad or not topics:
            return {"success": False, "ret_msg": f"error:handler not found,topic:{','.join(bad)}", **reply}
        board, now_ms = self.world.subscriptions, self.world.now_ms()
        for topic in topics:
            if op == "subscribe" and topic not in self.topics:
                board.subscribed(self.account, topic, now_ms)
            elif op == "unsubscribe" and topic in self.topics:
                board.unsubscribed(self.account, topic)
        if op == "subscribe":
            self.topics.update(topics)
        else:
            self.topics.difference_update(topics)
        return {"success": True, "ret_msg": "", **reply}

    def close(self) -> None:
        """Stop listening; safe to call twice."""
        if self.account is not None:
            for topic in self.topics:
                self.world.subscriptions.unsubscribed(self.account, topic)
            self.topics.clear()
        if self.account is not None and self.on_change in self.account.listeners:
            self.account.listeners.remove(self.on_change)


def _fast(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("category", "symbol", "execId", "execPrice", "execQty", "orderId", "isMaker", "orderLinkId")
    fast = {k: row[k] for k in keys}
    fast.update(side=row["side"], execTime=row["execTime"], seq=row["seq"])
    return fast


async def private_stream(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 20)
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    async with FaultyPush(request.app[WORLD], ws, name="bybit") as push:
        session = PrivateSession(push, request.app)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    payload = json.loads(msg.data)
                except ValueError:
                    continue
                if isinstance(payload, dict):
                    await session.handle(payload)
        finally:
            session.close()
    return ws


async def close_sockets(app: web.Application) -> None:
    """On shutdown: close every open private socket so handlers return and the runner can stop."""
    sockets: Sockets = app[SOCKETS]
    await asyncio.gather(
        *(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown") for ws in list(sockets)),
        return_exceptions=True,
    )


async def _detach_hooks(app: web.Application) -> None:
    app[HOOKS].detach()


def add_routes(app: web.Application) -> None:
    sockets: Sockets = weakref.WeakSet()
    app[SOCKETS] = sockets
    hooks = FaultHooks(app[WORLD], app[VISIBILITY], app[CLOCK])
    hooks.attach()
    app[HOOKS] = hooks
    app.router.add_get("/v5/private", private_stream)
    app.on_shutdown.append(close_sockets)
    app.on_cleanup.append(_detach_hooks)
