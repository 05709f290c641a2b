"""Simulated Kraken spot: public metadata, private REST account calls and WebSocket v2 on one app.

ccxt reaches it through ``client_config``: every REST and WebSocket URL of ccxt's Kraken points at
the app (``/0/public``, ``/0/private``, ``/v2``), so nothing leaves 127.0.0.1.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from fullon_account_service.simulator.faults import fault_middleware
from fullon_account_service.simulator.model import SimAccount, World
from fullon_account_service.simulator.venues.kraken import markets, rest, ws
from fullon_account_service.simulator.venues.kraken.auth import Authenticator, TokenBook

__all__ = ["VENUE", "KrakenVenue"]


class KrakenVenue:
    name = "kraken"

    def build_app(self, world: World) -> web.Application:
        tokens = TokenBook(world)
        plan = ws.PushPlan(world)
        plan.attach()
        middleware = fault_middleware(
            world, rest.rate_limited, name="kraken", server_error_response=rest.unavailable
        )
        app = web.Application(middlewares=[middleware])
        app.add_routes(markets.routes(world))
        app.add_routes(rest.routes(world, Authenticator(world), tokens, plan.visible))
        app.add_routes(ws.routes(world, tokens, plan))
        return app

    def client_config(self, account: SimAccount, base_url: str) -> dict[str, Any]:
        ws_base = "ws" + base_url.removeprefix("http")
        return {
            "apiKey": account.api_key,
            "secret": account.secret,
            "urls": {
                "api": {
                    "public": base_url,
                    "private": base_url,
                    "ws": {
                        "public": ws_base,
                        "private": ws_base,
                        "privateV2": f"{ws_base}/v2",
                        "publicV2": f"{ws_base}/v2",
                        "beta": ws_base,
                        "beta-private": ws_base,
                    },
                }
            },
            "options": {"adjustForTimeDifference": False},
        }


VENUE = KrakenVenue()
