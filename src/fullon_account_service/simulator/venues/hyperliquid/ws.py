"""``/ws``: Hyperliquid's one public socket, subscriptions keyed by user address, no auth.

Per socket: ``{"method":"ping"}`` -> ``{"channel":"pong"}``; ``subscribe``/``unsubscribe`` are
acked on ``subscriptionResponse``; a repeated subscribe gets ``Already subscribed`` on the
``error`` channel (ccxt ignores that text) and anything unreadable ``Error parsing JSON into valid
websocket request`` (ccxt rejects every pending watch of the socket on it, like the venue).

Pushes, driven by the account's ``Change`` notifications:
- ``clearinghouseState``: a snapshot right after subscribing, then one per ledger operation that
  changed balances or positions (coalesced with ``call_soon``), and every ``push_interval_s``
  even without changes — ccxt's watch_positions/watch_balance share the subscription and the
  second caller waits for the next push.
- ``userFills``: a snapshot with ``isSnapshot: true`` (oldest first, newest 2000), then each fill.
- ``orderUpdates``: every order change; no snapshot (the venue sends none).
- ``userFundings`` / ``userNonFundingLedgerUpdates``: a snapshot with ``isSnapshot: true`` (oldest
  first, the newest 500), then each new entry (rows from ``cash``).

``EventFaults`` holds the per-event fault decisions made once per fill/order for the whole venue
(a fill kept off every socket, an order hidden from REST for a moment).
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from fullon_account_service.logs import get_logger
from fullon_account_service.simulator.faults import FaultDice, FaultyPush
from fullon_account_service.simulator.model import (
    BalancesChanged,
    Change,
    FillAdded,
    LedgerAdded,
    OrderChanged,
    PositionChanged,
    SimAccount,
    SimFill,
    SimOrder,
    World,
)
from fullon_account_service.simulator.venues.hyperliquid import cash, markets, render
from fullon_account_service.supervisor import TaskSupervisor

VENUE = "hyperliquid"
EARLY_ORDER_HIDE_MS = 1000
_TOPICS = frozenset(
    {"clearinghouseState", "orderUpdates", "userFills", "userFundings", "userNonFundingLedgerUpdates"}
)
_PARSE_ERROR = "Error parsing JSON into valid websocket request: "
_log = get_logger("simulator.hyperliquid")


class EventFaults:
    """Once-per-event fault decisions, shared by REST and every socket of the venue."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._dice = FaultDice(world, f"events|{VENUE}")
        self._rest_only: set[str] = set()
        self._seen_orders: set[str] = set()
        self._hidden_until: dict[str, int] = {}

    def attach(self) -> None:
        for account in self.world.accounts_of(VENUE):
            account.listeners.append(self.on_change)

    def detach(self) -> None:
        for account in self.world.accounts_of(VENUE):
            if self.on_change in account.listeners:
                account.listeners.remove(self.on_change)

    def on_change(self, account: SimAccount, change: Change) -> None:
        if isinstance(change, FillAdded) and self._dice.rest_only_fill():
            self._rest_only.add(change.fill.trade_id)
        elif isinstance(change, OrderChanged) and change.order.order_id not in self._seen_orders:
            self._seen_orders.add(change.order.order_id)
            if self._dice.early_order_update():
                self._hidden_until[change.order.order_id] = self.world.now_ms() + EARLY_ORDER_HIDE_MS

    def pushed(self, trade_id: str) -> bool:
        return trade_id not in self._rest_only

    def visible(self, order: SimOrder) -> bool:
        until = self._hidden_until.get(order.order_id)
        return until is None or self.world.now_ms() >= until


class _Session:
    """One socket's subscriptions and the listeners that feed them."""

    def __init__(self, world: World, push: FaultyPush, faults: EventFaults) -> None:
        self.world = world
        self.push = push
        self.faults = faults
        self.markets = markets.by_symbol(world)
        self.subs: dict[tuple[str, str], dict[str, Any]] = {}
        self.accounts: dict[str, SimAccount] = {}
        self.replays: dict[str, render.FillReplay] = {}
        self._pending_state: set[str] = set()
        self._loop = asyncio.get_running_loop()

    async def on_text(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        method = message.get("method") if isinstance(message, dict) else None
        if method == "ping":
            await self.push.send_raw({"channel": "pong"})
            return
        sub = message.get("subscription") if isinstance(message, dict) else None
        user = sub.get("user") if isinstance(sub, dict) else None
        if (
            method not in ("subscribe", "unsubscribe")
            or not isinstance(sub, dict)
            or sub.get("type") not in _TOPICS
            or not isinstance(user, str)
        ):
            await self.push.send_raw({"channel": "error", "data": _PARSE_ERROR + text})
            return
        key = (str(sub["type"]), user.lower())
        if method == "subscribe":
            await self._subscribe(key, sub)
        else:
            await self._unsubscribe(key, sub)

    async def _subscribe(self, key: tuple[str, str], sub: dict[str, Any]) -> None:
        if key in self.subs:
            await self.push.send_raw({"channel": "error", "data": f"Already subscribed: {json.dumps(sub)}"})
            return
        await self.push.send_raw(
            {"channel": "subscriptionResponse", "data": {"method": "subscribe", "subscription": sub}}
        )
        topic, user = key
        self.subs[key] = sub
        account = self.world.account_by_wallet(VENUE, user)
        if account is not None and user not in self.accounts:
            self.accounts[user] = account
            account.listeners.append(self.on_change)
        if account is not None:
            self.world.subscriptions.subscribed(account, topic, self.world.now_ms())
        if topic == "clearinghouseState":
            self.schedule_state(user)
        elif topic == "userFills":
            self.push.post(self._fills_snapshot(user, account))
        elif topic == "userFundings":
            rows = [cash.ws_funding(e) for e in cash.fundings(account)]
            self._post_ledger(topic, user, rows[-cash.LEDGER_PAGE :], snapshot=True)
        elif topic == "userNonFundingLedgerUpdates" and account is not None:
            rows = [cash.ledger_row(e, account) for e in cash.non_funding(account)]
            self._post_ledger(topic, user, rows[-cash.LEDGER_PAGE :], snapshot=True)

    async def _unsubscribe(self, key: tuple[str, str], sub: dict[str, Any]) -> None:
        if self.subs.pop(key, None) is None:
            await self.push.send_raw({"channel": "error", "data": f"Already unsubscribed: {json.dumps(sub)}"})
            return
        await self.push.send_raw(
            {"channel": "subscriptionResponse", "data": {"method": "unsubscribe", "subscription": sub}}
        )
        user = key[1]
        if user in self.accounts:
            self.world.subscriptions.unsubscribed(self.accounts[user], key[0])
        if key[0] == "userFills":
            self.replays.pop(user, None)
        if not any(u == user for _, u in self.subs):
            account = self.accounts.pop(user, None)
            if account is not None:
                account.listeners.remove(self.on_change)

    def _fills_snapshot(self, user: str, account: SimAccount | None) -> dict[str, Any]:
        replay = self.replays[user] = render.FillReplay()
        fills = account.fills if account else []
        rows = [
            (replay.row(f, self.markets[f.symbol], _cloid(account, f), user), f.trade_id)
            for f in fills
            if f.symbol in self.markets
        ]
        shown = [row for row, trade_id in rows if self.faults.pushed(trade_id)]
        return {
            "channel": "userFills",
            "data": {"isSnapshot": True, "user": user, "fills": shown[-render.PAGE :]},
        }

    def _post_ledger(self, topic: str, user: str, rows: list[dict[str, Any]], *, snapshot: bool) -> None:
        field = "fundings" if topic == "userFundings" else "nonFundingLedgerUpdates"
        data: dict[str, Any] = {"user": user, field: rows}
        if snapshot:
            data = {"isSnapshot": True, **data}
        self.push.post({"channel": topic, "data": data})

    def on_change(self, account: SimAccount, change: Change) -> None:
        user = (account.wallet_address or "").lower()
        if isinstance(change, LedgerAdded):
            entry = change.entry
            if entry.reason == "funding" and ("userFundings", user) in self.subs:
                self._post_ledger("userFundings", user, [cash.ws_funding(entry)], snapshot=False)
            elif entry.reason != "funding" and ("userNonFundingLedgerUpdates", user) in self.subs:
                row = cash.ledger_row(entry, account)
                self._post_ledger("userNonFundingLedgerUpdates", user, [row], snapshot=False)
        elif isinstance(change, BalancesChanged | PositionChanged):
            if ("clearinghouseState", user) in self.subs:
                self.schedule_state(user)
        elif isinstance(change, OrderChanged):
            market = self.markets.get(change.order.symbol)
            if market is not None and ("orderUpdates", user) in self.subs:
                self.push.post(
                    {"channel": "orderUpdates", "data": [render.order_update(change.order, market)]}
                )
        elif isinstance(change, FillAdded):
            market = self.markets.get(change.fill.symbol)
            replay = self.replays.get(user)
            if market is None or replay is None or ("userFills", user) not in self.subs:
                return
            row = replay.row(change.fill, market, _cloid(account, change.fill), user)
            if self.faults.pushed(change.fill.trade_id):
                self.push.post({"channel": "userFills", "data": {"user": user, "fills": [row]}})

    def schedule_state(self, user: str) -> None:
        """Push the state once after the current ledger operation, however many changes it made."""
        if user not in self._pending_state:
            self._pending_state.add(user)
            self._loop.call_soon(self._post_state, user)

    def _post_state(self, user: str) -> None:
        self._pending_state.discard(user)
        if ("clearinghouseState", user) not in self.subs:
            return
        state = render.clearinghouse_state(self.accounts.get(user), self.markets, self.world.now_ms())
        self.push.post(
            {"channel": "clearinghouseState", "data": {"dex": "", "user": user, "clearinghouseState": state}}
        )

    async def tick(self, interval_s: float) -> None:
        while not self.push.closed:
            await asyncio.sleep(interval_s)
            for topic, user in list(self.subs):
                if topic == "clearinghouseState":
                    self.schedule_state(user)

    def close(self) -> None:
        for topic, user in self.subs:
            if user in self.accounts:
                self.world.subscriptions.unsubscribed(self.accounts[user], topic)
        for account in self.accounts.values():
            if self.on_change in account.listeners:
                account.listeners.remove(self.on_change)
        self.accounts.clear()
        self.subs.clear()


def _cloid(account: SimAccount | None, fill: SimFill) -> str | None:
    order = account.orders.get(fill.order_id) if account else None
    return order.client_order_id if order else None


def ws_route(
    world: World, faults: EventFaults, push_interval_s: float
) -> tuple[
    Callable[[web.Request], Awaitable[web.StreamResponse]], Callable[[web.Application], Awaitable[None]]
]:
    """The socket handler and an ``on_shutdown`` hook that closes the sockets still open."""
    sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sockets.add(ws)
        async with (
            FaultyPush(world, ws, name=VENUE) as push,
            TaskSupervisor("simulator-hyperliquid") as tasks,
        ):
            session = _Session(world, push, faults)
            tasks.spawn(session.tick(push_interval_s), name=f"hl-ws-state-tick-{id(ws)}")
            try:
                async for msg in ws:
                    if msg.type == WSMsgType.TEXT:
                        await session.on_text(msg.data)
            finally:
                session.close()
        return ws

    async def on_shutdown(app: web.Application) -> None:
        for ws in list(sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")

    return handler, on_shutdown
