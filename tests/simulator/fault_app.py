"""A bare aiohttp app behind the simulator's fault middleware and WebSocket push, shared by the
fault tests: ``/rest`` answers ``{"ok": true}``, ``/ws`` acks then pushes ``messages`` frames."""

from __future__ import annotations

from aiohttp import web

from fullon_account_service.simulator.faults import FaultyPush, fault_middleware
from fullon_account_service.simulator.model import World


def _rate_limited(retry_after_s: float) -> web.StreamResponse:
    return web.json_response({"error": ["EAPI:Rate limit exceeded"]}, status=429)


def fault_app(world: World, messages: int, *, venue: str, push_name: str) -> web.Application:
    async def rest(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async with FaultyPush(world, ws, name=push_name) as push:
            await push.send_raw({"ack": True})
            for i in range(messages):
                push.post({"n": i})
            async for _ in ws:
                pass
        return ws

    app = web.Application(middlewares=[fault_middleware(world, _rate_limited, name=venue)])
    app.router.add_get("/rest", rest)
    app.router.add_get("/ws", ws_handler)
    return app
