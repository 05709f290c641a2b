"""Simulated Bybit v5: unified trading account with USDT linear perpetuals and spot.

``VENUE.build_app(world)`` serves REST (``/v5/...``) and the private stream (``/v5/private``) on one
aiohttp application; ``VENUE.client_config(account, base_url)`` is what ``ccxt.bybit`` /
``ccxt.pro.bybit`` need to talk to it instead of the real venue. Faults (``world.faults``) apply through
``simulator.faults``: a throttled request gets HTTP 429, ``Retry-After`` and the venue's retCode 10006.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from fullon_account_service.simulator.faults import fault_middleware
from fullon_account_service.simulator.model import SimAccount, World
from fullon_account_service.simulator.venues.bybit import cash, executions, markets, rest, wallet, ws
from fullon_account_service.simulator.venues.bybit.auth import (
    CLOCK,
    WORLD,
    Clock,
    error_response,
    rate_limited,
    wall_clock_ms,
)


class BybitVenue:
    name = "bybit"

    def __init__(self, clock_ms: Clock = wall_clock_ms) -> None:
        self._clock_ms = clock_ms

    def build_app(self, world: World) -> web.Application:
        def throttled(retry_after_s: float) -> web.StreamResponse:
            response = error_response(rate_limited(), world.now_ms())
            now_ms = self._clock_ms()
            response.headers["X-Bapi-Limit"] = "10"
            response.headers["X-Bapi-Limit-Status"] = "0"
            response.headers["X-Bapi-Limit-Reset-Timestamp"] = str(now_ms + int(retry_after_s * 1000))
            return response

        middleware = fault_middleware(world, throttled, name="bybit")
        app = web.Application(middlewares=[middleware])
        app[WORLD] = world
        app[CLOCK] = self._clock_ms
        wallet.install(app, world)
        markets.add_routes(app)
        rest.add_routes(app)
        executions.add_routes(app)
        cash.add_routes(app)
        ws.add_routes(app)
        return app

    def client_config(self, account: SimAccount, base_url: str) -> dict[str, Any]:
        base = base_url.rstrip("/")
        stream = base.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/v5/private"
        rest_urls = {key: base for key in ("spot", "futures", "v2", "public", "private")}
        return {
            "apiKey": account.api_key,
            "secret": account.secret,
            "enableRateLimit": False,
            "urls": {
                "api": {
                    **rest_urls,
                    "ws": {
                        "private": {
                            "spot": {"unified": stream, "nonUnified": stream},
                            "contract": stream,
                            "usdc": stream,
                            "trade": stream,
                        },
                    },
                },
            },
        }


VENUE = BybitVenue()

__all__ = ["VENUE", "BybitVenue"]
