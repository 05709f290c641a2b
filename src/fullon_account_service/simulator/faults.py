"""Faults on demand, applied the same way by every venue. Read ``world.faults`` at each decision,
so changes made through the control endpoint take effect immediately.

Venue API (stable):

``FaultDice(world, name)``
    Seeded coin flips (``random.Random(f"faults|{seed}|{name}")``) against the current faults.
    ``rate_limited()``, ``server_error()``, ``drop_ws()``, ``malformed()``, ``truncated()``,
    ``duplicate()``, ``reorder()``, ``rest_only_fill()``, ``early_order_update()`` -> bool;
    ``refusing()`` -> bool (``world.now_ms() < refuse_connections_until_ms``).
    A probability of 0 never draws, so a fault-free run consumes no randomness.
    ``count(kind)`` records an injected fault in ``world.fault_counts`` (``simulator.stats``);
    the middleware and ``FaultyPush`` count what they inject, damaged frames once they are sent.
    ``rest_only_fill()``: call once per ``FillAdded``; True = do not push that fill over WS (REST
    still serves it). ``early_order_update()``: call once per new order; True = push the order's
    update before REST lists it (venue-defined, e.g. hide it from REST for ~1 s).

``fault_middleware(world, rate_limit_response, *, name, server_error_response=None)``
    aiohttp middleware; add it to the venue app: ``web.Application(middlewares=[mw])``.
    Every request (WebSocket handshakes included): while ``refusing()`` the connection is cut
    without a response (ccxt: ``ExchangeNotAvailable``/``NetworkError``); ``slow_response_ms``
    delays the answer. Plain REST requests only: with ``rate_limit_probability`` it returns
    ``rate_limit_response(retry_after_s)`` (the venue's own body and status, e.g. HTTP 429 or
    bybit's retCode 10006) and sets ``Retry-After`` if the venue's response lacks it; with
    ``server_error_probability`` it returns ``server_error_response()`` (default: HTTP 503 text).

``FaultyPush(world, ws, *, name, malform=None)`` — async context manager around one server-side
``web.WebSocketResponse``:
    ``post(payload)``: sync, never blocks; queue a data message (dict/list -> compact JSON, str as
    is). Safe to call from a ``SimAccount`` listener. A writer task sends queued messages in order,
    applying per message: ``drop_ws`` (connection closed instead of sending), ``malformed`` /
    ``truncated`` (the text is damaged but still starts with ``{`` so ccxt tries to parse it),
    ``duplicate`` (sent twice), ``reorder`` (held back and sent after the next message, or after
    0.2 s if none comes).
    ``await send_raw(payload)``: send now, no faults — for acks, pongs and auth replies. It bypasses
    the queue, so post a snapshot *after* sending its subscribe ack, not before.
    ``ws_drop_every_s``: the connection is closed (code 1001) that many seconds after it opened.
    The writer sleeps on its queue until the next frame, the held frame's release or the drop,
    whichever comes first; an idle writer re-reads the faults every second (``_IDLE_S``), so a
    drop set on an idle socket lands within a second of being due. Queued frames leave a couple of
    loop turns apart (each ``get`` runs as a task under ``wait_for``), so a client in the same
    process reads them one at a time, as the venues' WebSocket tests expect of ccxt's ``watch_*``.
    ``closed`` tells whether the push side has stopped.
    Usage in a WS handler::

        async with FaultyPush(world, ws, name="kraken") as push:
            async for msg in ws:
                ...  # answer with ``await push.send_raw(ack)``; listeners call ``push.post(row)``
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable
from types import TracebackType
from typing import Any

from aiohttp import WSCloseCode, web
from aiohttp.typedefs import Handler, Middleware

from fullon_account_service.logs import get_logger
from fullon_account_service.simulator.model import World
from fullon_account_service.simulator.wire import dumps
from fullon_account_service.supervisor import TaskSupervisor

__all__ = ["FaultDice", "FaultyPush", "fault_middleware"]

_log = get_logger("simulator.faults")
_REORDER_HOLD_S = 0.2
_IDLE_S = 1.0
"""An idle writer's longest sleep. It used to wake every 0.1 s, ten wake-ups a second per socket
whether or not anything was due: at 1,000 accounts a fifth of the simulator's loop (issue 18)."""


def venue_of(world: World, name: str) -> str:
    """The venue a dice or push name belongs to (``kraken|3``, ``events|hyperliquid``)."""
    return next((part for part in name.split("|") if part in world.markets), name.split("|")[0])


class FaultDice:
    def __init__(self, world: World, name: str) -> None:
        self.world = world
        self.venue = venue_of(world, name)
        self._rng = random.Random(f"faults|{world.seed}|{name}")

    def count(self, kind: str) -> None:
        """Record one injected fault of ``kind`` (``world.fault_counts``)."""
        self.world.fault_counts.add(self.venue, kind)

    def _roll(self, probability: float) -> bool:
        return probability > 0 and self._rng.random() < probability

    def refusing(self) -> bool:
        return self.world.now_ms() < self.world.faults.refuse_connections_until_ms

    def rate_limited(self) -> bool:
        return self._roll(self.world.faults.rate_limit_probability)

    def server_error(self) -> bool:
        return self._roll(self.world.faults.server_error_probability)

    def drop_ws(self) -> bool:
        return self._roll(self.world.faults.ws_drop_probability)

    def malformed(self) -> bool:
        return self._roll(self.world.faults.malformed_frame_probability)

    def truncated(self) -> bool:
        return self._roll(self.world.faults.truncated_frame_probability)

    def duplicate(self) -> bool:
        return self._roll(self.world.faults.duplicate_probability)

    def reorder(self) -> bool:
        return self._roll(self.world.faults.reorder_probability)

    def rest_only_fill(self) -> bool:
        return self._counted(self._roll(self.world.faults.rest_only_fill_probability), "rest_only_fill")

    def early_order_update(self) -> bool:
        rolled = self._roll(self.world.faults.early_order_update_probability)
        return self._counted(rolled, "early_order_update")

    def _counted(self, rolled: bool, kind: str) -> bool:
        if rolled:
            self.count(kind)
        return rolled


def _default_server_error() -> web.StreamResponse:
    return web.Response(status=503, text="Service Unavailable")


def fault_middleware(
    world: World,
    rate_limit_response: Callable[[float], web.StreamResponse],
    *,
    name: str,
    server_error_response: Callable[[], web.StreamResponse] | None = None,
) -> Middleware:
    dice = FaultDice(world, f"http|{name}")
    server_error = server_error_response or _default_server_error

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if dice.refusing():
            dice.count("refused_connection")
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=503)  # never sent: the connection is already gone
        faults = world.faults
        if faults.slow_response_ms > 0:
            dice.count("slow_response")
            await asyncio.sleep(faults.slow_response_ms / 1000)
        if request.headers.get("Upgrade", "").lower() != "websocket":
            if dice.rate_limited():
                dice.count("rate_limit")
                response = rate_limit_response(faults.rate_limit_retry_after_s)
                if "Retry-After" not in response.headers:
                    response.headers["Retry-After"] = str(math.ceil(faults.rate_limit_retry_after_s))
                return response
            if dice.server_error():
                dice.count("server_error")
                return server_error()
        return await handler(request)

    return middleware


def _encode(payload: Any) -> str:
    return payload if isinstance(payload, str) else dumps(payload)


def _default_malform(text: str) -> str:
    return "{malformed " + text[1:]


class FaultyPush:
    def __init__(
        self,
        world: World,
        ws: web.WebSocketResponse,
        *,
        name: str,
        malform: Callable[[str], str] | None = None,
    ) -> None:
        self.world = world
        self.ws = ws
        self._dice = FaultDice(world, f"ws|{name}")
        self._malform = malform or _default_malform
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._held: tuple[str, str | None] | None = None
        self._held_at = 0.0
        self._tasks = TaskSupervisor("simulator-ws-push")
        self.closed = False

    async def __aenter__(self) -> FaultyPush:
        self._tasks.spawn(self._writer(), name=f"sim-ws-push-{id(self)}")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.closed = True
        await self._tasks.cancel_all()

    def post(self, payload: Any) -> None:
        if not self.closed:
            self._queue.put_nowait(_encode(payload))

    async def send_raw(self, payload: Any) -> None:
        if not self.ws.closed:
            await self.ws.send_str(_encode(payload))

    async def _drop(self) -> None:
        self._dice.count("ws_drop")
        self.closed = True
        await self.ws.close(code=WSCloseCode.GOING_AWAY, message=b"simulated drop")

    async def _writer(self) -> None:
        try:
            await self._write_loop()
        except ConnectionResetError:
            self.closed = True  # the client went away; nothing left to push to

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        opened = loop.time()
        while not self.closed and not self.ws.closed:
            every = self.world.faults.ws_drop_every_s
            if every is not None and every > 0 and loop.time() - opened >= every:
                await self._drop()
                return
            wake = loop.time() + _IDLE_S
            if self._held is not None:
                wake = min(wake, self._held_at + _REORDER_HOLD_S)
            if every is not None and every > 0:
                wake = min(wake, opened + every)
            try:
                text = await asyncio.wait_for(self._queue.get(), timeout=max(wake - loop.time(), 0.0))
            except TimeoutError:
                if self._held is not None and loop.time() - self._held_at >= _REORDER_HOLD_S:
                    held, self._held = self._held, None
                    await self._send(*held)
                continue
            await self._deliver(text, loop.time())

    async def _deliver(self, text: str, now: float) -> None:
        dice = self._dice
        if dice.drop_ws():
            await self._drop()
            return
        damage: str | None = None
        if dice.malformed():
            text, damage = self._malform(text), "malformed_frame"
        elif dice.truncated():
            text, damage = text[: max(1, len(text) // 2)], "truncated_frame"
        if self._held is None and dice.reorder():
            dice.count("reordered_frame")
            self._held, self._held_at = (text, damage), now
            return
        await self._send(text, damage)
        if dice.duplicate():
            dice.count("duplicate_frame")
            await self._send(text, damage)
        if self._held is not None:
            held, self._held = self._held, None
            await self._send(*held)

    async def _send(self, text: str, damage: str | None) -> None:
        """Send one frame; a damaged one is counted once it is on the wire."""
        await self.ws.send_str(text)
        if damage is not None:
            self._dice.count(damage)
