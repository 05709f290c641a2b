"""Hyperliquid perpetuals as ccxt sees them: ``POST /info``, ``POST /exchange`` and ``/ws``.

Reads need no credentials (queries are keyed by wallet address); ccxt still wants a
``privateKey`` to sign the two ``/exchange`` actions it sends while loading markets, and the
simulator checks those signatures (see ``auth``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from fullon_account_service.simulator.faults import fault_middleware
from fullon_account_service.simulator.model import SimAccount, World
from fullon_account_service.simulator.venues.hyperliquid import auth, rest, ws

__all__ = ["VENUE", "HyperliquidVenue"]


def _rate_limited(retry_after_s: float) -> web.StreamResponse:
    """The venue's 429 carries no JSON error object, so ccxt maps it by status (RateLimitExceeded)."""
    return web.Response(status=429, text="null", content_type="application/json")


def _server_error() -> web.StreamResponse:
    return web.Response(status=500, text="Internal Server Error", content_type="text/plain")


@dataclass(slots=True)
class HyperliquidVenue:
    name: str = "hyperliquid"
    push_interval_s: float = 1.0
    """Period of the unsolicited ``clearinghouseState`` pushes (the venue sends them every few s)."""

    def build_app(self, world: World) -> web.Application:
        middleware = fault_middleware(
            world, _rate_limited, name=self.name, server_error_response=_server_error
        )
        app = web.Application(middlewares=[middleware])
        faults = ws.EventFaults(world)
        faults.attach()
        rest.add_routes(app, world, faults.visible)
        handler, close_sockets = ws.ws_route(world, faults, self.push_interval_s)
        app.router.add_get("/ws", handler)
        app.on_shutdown.append(close_sockets)

        async def detach(_: web.Application) -> None:
            faults.detach()

        app.on_cleanup.append(detach)
        return app

    def client_config(self, account: SimAccount, base_url: str) -> dict[str, Any]:
        ws_url = "ws" + base_url.removeprefix("http") + "/ws"
        return {
            "walletAddress": account.wallet_address,
            "privateKey": auth.private_key_for(account),
            "urls": {"api": {"public": base_url, "private": base_url, "ws": {"public": ws_url}}},
            "options": {"fetchMarkets": {"types": ["spot", "swap", "hip3"]}},
        }


VENUE = HyperliquidVenue()
