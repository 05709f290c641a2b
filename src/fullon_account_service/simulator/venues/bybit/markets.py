"""What ccxt's ``load_markets`` and account-type detection ask Bybit, built from the catalog.

``load_markets`` makes 12 calls: the signed ``/v5/asset/coin/query-info`` and eleven public
``/v5/market/instruments-info`` queries (spot; option per base coin; linear and inverse, each also
with ``status=PreLaunch``). Only spot and linear perpetuals are listed here; every other query gets
an empty list. ``fetch_balance`` and every private ``watch_*`` first ask ``/v5/user/query-api`` and
``/v5/account/info`` whether this is a unified trading account: it is (``uta: 1``, status 6).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from fullon_account_service.simulator.model import Market, SimAccount
from fullon_account_service.simulator.venues.bybit.auth import CLOCK, WORLD, signed
from fullon_account_service.simulator.venues.bybit.render import fmt, ok_body

_LAUNCH_MS = 1_585_526_400_000


def _spot_row(m: Market) -> dict[str, Any]:
    return {
        "symbol": m.venue_id,
        "baseCoin": m.base,
        "quoteCoin": m.quote,
        "innovation": "0",
        "status": "Trading",
        "marginTrading": "utaOnly",
        "stTag": "0",
        "lotSizeFilter": {
            "basePrecision": fmt(m.lot),
            "quotePrecision": "0.00000001",
            "minOrderQty": fmt(m.lot),
            "maxOrderQty": fmt(m.lot * 10_000_000),
            "minOrderAmt": "1",
            "maxOrderAmt": "4000000",
        },
        "priceFilter": {"tickSize": fmt(m.tick)},
        "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.1"},
    }


def _linear_row(m: Market) -> dict[str, Any]:
    return {
        "symbol": m.venue_id,
        "contractType": "LinearPerpetual",
        "status": "Trading",
        "baseCoin": m.base,
        "quoteCoin": m.quote,
        "launchTime": str(_LAUNCH_MS),
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": str(max(len(fmt(m.tick).partition(".")[2]), 0)),
        "leverageFilter": {"minLeverage": "1", "maxLeverage": fmt(m.max_leverage), "leverageStep": "0.01"},
        "priceFilter": {"minPrice": fmt(m.tick), "maxPrice": fmt(m.price * 100), "tickSize": fmt(m.tick)},
        "lotSizeFilter": {
            "maxOrderQty": fmt(m.lot * 1_000_000),
            "minOrderQty": fmt(m.lot),
            "qtyStep": fmt(m.lot),
            "postOnlyMaxOrderQty": fmt(m.lot * 1_000_000),
            "maxMktOrderQty": fmt(m.lot * 500_000),
            "minNotionalValue": "5",
        },
        "unifiedMarginTrade": True,
        "fundingInterval": 480,
        "settleCoin": m.settle or m.quote,
        "copyTrading": "both",
        "upperFundingRate": "0.005",
        "lowerFundingRate": "-0.005",
        "isPreListing": False,
        "preListingInfo": None,
    }


async def instruments_info(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    query = request.query
    cat = query.get("category", "")
    markets = world.markets.get("bybit", [])
    if query.get("symbol"):
        markets = [m for m in markets if m.venue_id == query["symbol"]]
    rows: list[dict[str, Any]] = []
    if query.get("status", "Trading") == "Trading":
        if cat == "spot":
            rows = [_spot_row(m) for m in markets if m.kind == "spot"]
        elif cat == "linear":
            rows = [_linear_row(m) for m in markets if m.kind == "swap" and m.settle == m.quote]
    result: dict[str, Any] = {"category": cat, "list": rows}
    if cat != "spot":
        result["nextPageCursor"] = ""
    return web.json_response(ok_body(result, world.now_ms()))


async def server_time(request: web.Request) -> web.Response:
    now = request.app[CLOCK]()
    result = {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}
    return web.json_response(ok_body(result, now))


def _coin_row(coin: str) -> dict[str, Any]:
    chain = {
        "chainType": coin,
        "confirmation": "6",
        "withdrawFee": "0",
        "depositMin": "0",
        "withdrawMin": "0",
        "chain": coin,
        "chainDeposit": "1",
        "chainWithdraw": "1",
        "minAccuracy": "8",
        "withdrawPercentageFee": "0",
        "contractAddress": "",
    }
    return {"name": coin, "coin": coin, "remainAmount": "1000000", "chains": [chain]}


@signed
async def coin_info(request: web.Request, account: SimAccount) -> web.Response:
    world = request.app[WORLD]
    coins = sorted({c for m in world.markets.get("bybit", []) for c in (m.base, m.quote)})
    if request.query.get("coin"):
        coins = [c for c in coins if c == request.query["coin"]]
    return web.json_response(ok_body({"rows": [_coin_row(c) for c in coins]}, world.now_ms()))


@signed
async def query_api(request: web.Request, account: SimAccount) -> web.Response:
    world = request.app[WORLD]
    result = {
        "id": str(1_000_000 + account.index),
        "note": "fullon simulator",
        "readOnly": 1,
        "secret": "",
        "permissions": {
            "ContractTrade": ["Order", "Position"],
            "Spot": ["SpotTrade"],
            "Wallet": ["AccountTransfer"],
            "Options": [],
            "Derivatives": [],
            "CopyTrading": [],
            "BlockTrade": [],
            "Exchange": [],
            "NFT": [],
        },
        "ips": ["*"],
        "type": 1,
        "deadlineDay": -1,
        "expiredAt": "",
        "createdAt": "2024-01-01T00:00:00Z",
        "unified": 0,
        "uta": 1,
        "userID": 100_000_000 + account.index,
        "inviterID": 0,
        "vipLevel": "No VIP",
        "mktMakerLevel": "0",
        "affiliateID": 0,
        "rsaPublicKey": "",
        "isMaster": True,
        "parentUid": "0",
        "kycLevel": "LEVEL_DEFAULT",
        "kycRegion": "",
    }
    return web.json_response(ok_body(result, world.now_ms()))


@signed
async def account_info(request: web.Request, account: SimAccount) -> web.Response:
    world = request.app[WORLD]
    result = {
        "marginMode": "REGULAR_MARGIN",
        "updatedTime": "1704067200000",
        "unifiedMarginStatus": 6,
        "dcpStatus": "OFF",
        "timeWindow": 10,
        "smpGroup": 0,
        "isMasterTrader": False,
        "spotHedgingStatus": "OFF",
    }
    return web.json_response(ok_body(result, world.now_ms()))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v5/market/instruments-info", instruments_info)
    app.router.add_get("/v5/market/time", server_time)
    app.router.add_get("/v5/asset/coin/query-info", coin_info)
    app.router.add_get("/v5/user/query-api", query_api)
    app.router.add_get("/v5/account/info", account_info)
