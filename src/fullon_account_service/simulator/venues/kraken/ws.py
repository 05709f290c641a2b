"""Kraken's private WebSocket v2 (``/v2``): ``balances`` and ``executions`` channels.

Flow as Kraken runs it: no login message; each subscribe carries the token from
``GetWebSocketsToken``; the server acks, sends a snapshot, then pushes updates driven by the
account's ``Change`` notifications. ``{"method":"ping"}`` is answered with ``method: pong``.

What is pushed, like Kraken: an order's ``pending_new`` and ``new`` on placement, then only its
end (``filled``, ``canceled``); partial fills travel as ``exec_type: trade`` rows (which ccxt routes
to my-trades only). Balances are ledger entries: a push only when a total changes, never for a
hold. A change that is a ledger entry (deposit, withdrawal, transfer, credit, adjustment) carries
that entry's ``ledger_id``, ``type``, ``subtype`` and ``fee``, as ``Ledgers`` lists it. Trade rows
are always in messages of their own so ccxt routes them right.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from aiohttp import WSMsgType, web

from fullon_account_service.simulator.faults import FaultDice, FaultyPush
from fullon_account_service.simulator.model import (
    BalancesChanged,
    Change,
    FillAdded,
    LedgerAdded,
    OrderChanged,
    SimAccount,
    SimFill,
    SimLedgerEntry,
    SimOrder,
    World,
)
from fullon_account_service.simulator.venues.kraken import render
from fullon_account_service.simulator.venues.kraken.auth import TokenBook

EARLY_HIDE_MS = 1000
SNAPSHOT_TRADES = 50


class PushPlan:
    """Fault decisions taken once per event for the whole venue (not per socket): which fills are
    never pushed and which new orders REST hides for a moment (their WS update comes first)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._dice = FaultDice(world, "kraken|events")
        self.rest_only: set[str] = set()
        self.hidden_until: dict[str, int] = {}

    def attach(self) -> None:
        for account in self.world.accounts_of("kraken"):
            account.listeners.append(self.on_change)

    def on_change(self, account: SimAccount, change: Change) -> None:
        if isinstance(change, FillAdded):
            if self._dice.rest_only_fill():
                self.rest_only.add(change.fill.trade_id)
        elif isinstance(change, OrderChanged) and _is_new(change.order) and self._dice.early_order_update():
            now_ms = self.world.now_ms()
            for stale in [i for i, until in self.hidden_until.items() if until <= now_ms]:
                del self.hidden_until[stale]
            self.hidden_until[change.order.order_id] = now_ms + EARLY_HIDE_MS

    def visible(self, order_id: str) -> bool:
        until = self.hidden_until.get(order_id)
        if until is None:
            return True
        if self.world.now_ms() < until:
            return False
        del self.hidden_until[order_id]
        return True


def _is_new(order: SimOrder) -> bool:
    return order.status == "open" and order.filled == 0 and order.updated_ms == order.created_ms


class Session:
    """One private socket: its account (from the first valid token), channels and sequences."""

    def __init__(self, world: World, tokens: TokenBook, plan: PushPlan, push: FaultyPush) -> None:
        self.world = world
        self.markets = world.markets["kraken"]
        self.tokens = tokens
        self.plan = plan
        self.push = push
        self.account: SimAccount | None = None
        self.channels: dict[str, dict[str, Any]] = {}
        self.sequence: dict[str, int] = {}
        self.totals: dict[str, float] = {}
        self.fill_ref: str | None = None
        self.ledger_entry: SimLedgerEntry | None = None
        """The ledger entry behind the next ``BalancesChanged`` (it is announced just before)."""

    # -- requests --------------------------------------------------------------------------------
    async def handle(self, text: str) -> None:
        time_in = render.iso(self.world.now_ms())
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            await self._reply({"error": "EGeneral:Invalid arguments", "success": False}, time_in)
            return
        method, req_id = message.get("method"), message.get("req_id")
        head: dict[str, Any] = {"method": method} | ({"req_id": req_id} if req_id is not None else {})
        if method == "ping":
            await self._reply(head, time_in)
        elif method == "subscribe":
            await self._subscribe(message.get("params"), head, time_in)
        elif method == "unsubscribe":
            channel = (message.get("params") or {}).get("channel")
            if self.channels.pop(str(channel), None) is not None and self.account is not None:
                self.world.subscriptions.unsubscribed(self.account, str(channel))
            await self._reply(head | {"result": {"channel": channel}, "success": True}, time_in)
        else:
            await self._reply(head | {"error": "EGeneral:Invalid arguments", "success": False}, time_in)

    async def _reply(self, body: dict[str, Any], time_in: str) -> None:
        if body.get("method") == "ping":
            body = body | {"method": "pong"}
        await self.push.send_raw(body | {"time_in": time_in, "time_out": render.iso(self.world.now_ms())})

    async def _subscribe(self, params: Any, head: dict[str, Any], time_in: str) -> None:
        params = params if isinstance(params, dict) else {}
        channel = params.get("channel")
        if channel not in ("balances", "executions"):
            await self._reply(head | {"error": "EGeneral:Invalid arguments", "success": False}, time_in)
            return
        account = self.tokens.resolve(params.get("token"))
        if account is None or (self.account is not None and account is not self.account):
            await self._reply(head | {"error": "ESession:Invalid session", "success": False}, time_in)
            return
        if channel in self.channels:
            await self._reply(head | {"error": "Already subscribed", "success": False}, time_in)
            return
        await self._reply(head | {"result": {"channel": channel, "snapshot": True}, "success": True}, time_in)
        # From here on no await: the snapshot and the listener see the same state, so no change
        # falls between them and the updates queue up behind the snapshot.
        if self.account is None:
            self.account = account
            account.listeners.append(self.on_change)
        self.channels[channel] = params
        self.world.subscriptions.subscribed(account, channel, self.world.now_ms())
        if channel == "balances":
            self._balances_snapshot(account)
        else:
            self._executions_snapshot(account, params)

    def detach(self) -> None:
        if self.account is not None:
            for channel in self.channels:
                self.world.subscriptions.unsubscribed(self.account, channel)
        if self.account is not None and self.on_change in self.account.listeners:
            self.account.listeners.remove(self.on_change)

    # -- pushes ----------------------------------------------------------------------------------
    def _post(self, channel: str, kind: str, data: list[dict[str, Any]]) -> None:
        self.sequence[channel] = self.sequence.get(channel, 0) + 1
        self.push.post({"channel": channel, "type": kind, "data": data, "sequence": self.sequence[channel]})

    def _fee_usd(self, fee: float, currency: str | None) -> float:
        return fee * render.usd_rate(self.markets, currency) if currency and fee else 0.0

    def _balances_snapshot(self, account: SimAccount) -> None:
        rows = [render.ws_balance_snapshot_row(c, b) for c, b in sorted(account.balances.items())]
        self.totals = {c: b.total for c, b in account.balances.items()}
        self._post("balances", "snapshot", rows)

    def _executions_snapshot(self, account: SimAccount, params: dict[str, Any]) -> None:
        if params.get("snap_trades", False) is True:
            fills = [f for f in account.fills if f.trade_id not in self.plan.rest_only][-SNAPSHOT_TRADES:]
            rows = [self._trade_row(account, f) for f in fills]
            self._post("executions", "snapshot", rows)
        if params.get("snap_orders", True) is not False:
            orders = sorted(
                (o for o in account.orders.values() if o.status == "open"), key=lambda o: o.created_ms
            )
            rows = [self._order_row(o, "new", o.created_ms) for o in orders]
            self._post("executions", "snapshot", rows)

    def _trade_row(self, account: SimAccount, fill: SimFill) -> dict[str, Any]:
        fee_usd = self._fee_usd(fill.fee, fill.fee_currency)
        return render.ws_trade_row(fill, account.orders[fill.order_id], fee_usd)

    def _order_row(self, order: SimOrder, exec_type: str, ts_ms: int) -> dict[str, Any]:
        return render.ws_order_row(order, exec_type, self._fee_usd(order.fee, order.fee_currency), ts_ms)

    def on_change(self, account: SimAccount, change: Change) -> None:
        """Listener: turns a world change into queued messages (sync, never blocks)."""
        if isinstance(change, FillAdded):
            self.fill_ref = change.fill.trade_id
            if "executions" in self.channels and change.fill.trade_id not in self.plan.rest_only:
                fill = change.fill
                row = render.ws_trade_row(
                    fill, account.orders[fill.order_id], self._fee_usd(fill.fee, fill.fee_currency)
                )
                self._post("executions", "update", [row])
        elif isinstance(change, OrderChanged):
            if "executions" in self.channels:
                self._order_update(change.order)
        elif isinstance(change, LedgerAdded):
            self.ledger_entry = change.entry
        elif isinstance(change, BalancesChanged):
            self._balances_update(account, change.currencies)

    def _order_update(self, order: SimOrder) -> None:
        if _is_new(order):
            self._post("executions", "update", [self._order_row(order, "pending_new", order.created_ms)])
            self._post("executions", "update", [self._order_row(order, "new", order.created_ms)])
        elif order.status != "open":
            exec_type = "filled" if order.status == "closed" else "canceled"
            self._post("executions", "update", [self._order_row(order, exec_type, order.updated_ms)])

    def _balances_update(self, account: SimAccount, currencies: tuple[str, ...]) -> None:
        ref, self.fill_ref = self.fill_ref, None
        entry, self.ledger_entry = self.ledger_entry, None
        if "balances" not in self.channels:
            return
        now_ms = self.world.now_ms()
        rows = []
        for code in currencies:
            bal = account.balances.get(code)
            total = bal.total if bal is not None else 0.0
            amount = total - self.totals.get(code, 0.0)
            if amount == 0:
                continue
            self.totals[code] = total
            if entry is not None and entry.currency == code:
                rows.append(render.ws_ledger_row(entry))
                continue
            kind = "trade" if ref else ("deposit" if amount > 0 else "withdrawal")
            ref_id = ref or render.derived_id(f"{account.index}|{code}|{now_ms}|{total}", "F")
            rows.append(render.ws_balance_update_row(code, total, amount, kind, ref_id, now_ms))
        if rows:
            self._post("balances", "update", rows)


def routes(world: World, tokens: TokenBook, plan: PushPlan) -> list[web.RouteDef]:
    connections = itertools.count(1)

    async def private_v2(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        connection = next(connections)
        async with FaultyPush(world, ws, name=f"kraken|{connection}") as push:
            session = Session(world, tokens, plan, push)
            await push.send_raw(_status(connection))
            try:
                async for msg in ws:
                    if msg.type == WSMsgType.TEXT:
                        await session.handle(msg.data)
                    elif msg.type == WSMsgType.ERROR:
                        break
            finally:
                session.detach()
        return ws

    return [web.get("/v2", private_v2)]


def _status(connection: int) -> dict[str, Any]:
    return {
        "channel": "status",
        "type": "update",
        "data": [{"api_version": "v2", "connection_id": connection, "system": "online", "version": "2.0.10"}],
    }
