"""Kraken's public metadata (``Assets``, ``AssetPairs``, ``Time``) built from the catalog.

Kraken names assets in two ways: REST uses legacy ids (``XXBT``, ``ZUSD``) with an ``altname``
(``XBT``, ``USD``), WebSocket v2 uses plain codes (``BTC``, ``USD``). ccxt maps the REST ids back to
codes through ``altname`` plus its own ``XBT -> BTC`` alias, so the tables here must agree with
that or balances and markets come out under the wrong code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

from aiohttp import web

from fullon_account_service.simulator.model import Market, World


@dataclass(frozen=True, slots=True)
class Asset:
    asset_id: str
    altname: str
    decimals: int


# code (as ccxt and WS v2 spell it) -> Kraken REST asset, as Kraken lists them.
_ASSETS: dict[str, Asset] = {
    "BTC": Asset("XXBT", "XBT", 10),
    "ETH": Asset("XETH", "ETH", 10),
    "LTC": Asset("XLTC", "LTC", 10),
    "XRP": Asset("XXRP", "XRP", 8),
    "USD": Asset("ZUSD", "USD", 4),
    "EUR": Asset("ZEUR", "EUR", 4),
    "SOL": Asset("SOL", "SOL", 10),
    "ADA": Asset("ADA", "ADA", 8),
    "DOT": Asset("DOT", "DOT", 10),
}
_BY_ID = {a.asset_id: code for code, a in _ASSETS.items()}

PAIR_FEES_TAKER = [[0, 0.26], [50000, 0.24], [100000, 0.22], [250000, 0.2], [500000, 0.18]]
PAIR_FEES_MAKER = [[0, 0.16], [50000, 0.14], [100000, 0.12], [250000, 0.1], [500000, 0.08]]


def asset(code: str) -> Asset:
    """The REST asset for ``code``; an unknown code is its own id (how Kraken lists new coins)."""
    return _ASSETS.get(code) or Asset(code, code, 8)


def decimals_of(step: float) -> int:
    """Number of decimals of a tick or lot step (0.01 -> 2)."""
    return max(0, round(-math.log10(step)))


def altname(market: Market) -> str:
    """Kraken's short pair name (``XBTUSD``); ccxt resolves order and trade rows by it."""
    return asset(market.base).altname + asset(market.quote).altname


def wsname(market: Market) -> str:
    """The v1 WebSocket pair name (``XBT/USD``), which ccxt indexes markets by."""
    return f"{asset(market.base).altname}/{asset(market.quote).altname}"


def currencies(markets: list[Market]) -> list[str]:
    seen: dict[str, None] = {}
    for m in markets:
        seen.setdefault(m.base)
        seen.setdefault(m.quote)
    return list(seen)


def assets_result(markets: list[Market]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for code in currencies(markets):
        a = asset(code)
        result[a.asset_id] = {
            "aclass": "currency",
            "altname": a.altname,
            "decimals": a.decimals,
            "display_decimals": min(a.decimals, 5),
            "status": "enabled",
        }
    return result


def pair_row(market: Market) -> dict[str, Any]:
    lot_decimals = decimals_of(market.lot)
    return {
        "altname": altname(market),
        "wsname": wsname(market),
        "aclass_base": "currency",
        "base": asset(market.base).asset_id,
        "aclass_quote": "currency",
        "quote": asset(market.quote).asset_id,
        "lot": "unit",
        "cost_decimals": asset(market.quote).decimals,
        "pair_decimals": decimals_of(market.tick),
        "lot_decimals": lot_decimals,
        "lot_multiplier": 1,
        "leverage_buy": [],
        "leverage_sell": [],
        "fees": PAIR_FEES_TAKER,
        "fees_maker": PAIR_FEES_MAKER,
        "fee_volume_currency": "ZUSD",
        "margin_call": 80,
        "margin_stop": 40,
        "ordermin": f"{market.lot * 10_000:.{lot_decimals}f}",
        "costmin": "0.5",
        "tick_size": f"{market.tick:.{decimals_of(market.tick)}f}",
        "status": "online",
    }


def market_by_pair(markets: list[Market], pair: str) -> Market | None:
    """Resolve a pair given as key (``XXBTZUSD``) or altname (``XBTUSD``), as Kraken accepts both."""
    return next((m for m in markets if pair in (m.venue_id, altname(m))), None)


def _ok(result: Any) -> web.Response:
    return web.json_response({"error": [], "result": result})


def _error(message: str) -> web.Response:
    return web.json_response({"error": [message]})


def routes(world: World) -> list[web.RouteDef]:
    markets = world.markets["kraken"]

    async def assets(request: web.Request) -> web.Response:
        result = assets_result(markets)
        wanted = request.query.get("asset")
        if wanted:
            names = set(wanted.split(","))
            result = {k: v for k, v in result.items() if k in names or v["altname"] in names}
            if not result:
                return _error("EQuery:Unknown asset")
        return _ok(result)

    async def asset_pairs(request: web.Request) -> web.Response:
        wanted = request.query.get("pair")
        chosen = markets
        if wanted:
            chosen = [m for p in wanted.split(",") if (m := market_by_pair(markets, p)) is not None]
            if not chosen:
                return _error("EQuery:Unknown asset pair")
        return _ok({m.venue_id: pair_row(m) for m in chosen})

    async def server_time(request: web.Request) -> web.Response:
        now_ms = world.now_ms()
        return _ok({"unixtime": now_ms // 1000, "rfc1123": formatdate(now_ms / 1000, usegmt=True)})

    async def system_status(request: web.Request) -> web.Response:
        stamp = datetime.fromtimestamp(world.now_ms() // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return _ok({"status": "online", "timestamp": stamp})

    return [
        web.get("/0/public/Assets", assets),
        web.get("/0/public/AssetPairs", asset_pairs),
        web.get("/0/public/Time", server_time),
        web.get("/0/public/SystemStatus", system_status),
    ]
