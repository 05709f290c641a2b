"""The metadata ``/info`` queries ccxt's ``load_markets`` sends, built from the world's catalog.

Only perpetuals are listed (``metaAndAssetCtxs``); the spot side (``spotMeta``,
``spotMetaAndAssetCtxs``) carries the USDC and HYPE tokens (spot wallet balances) and no
pairs, and ``perpDexs`` has only the main dex, so ccxt loads nothing else. A perp's ccxt id is
its index in ``universe``, so the universe is ordered by the catalog's ``venue_id``.
"""

from __future__ import annotations

import math
from typing import Any

from fullon_account_service.simulator.model import Market, World
from fullon_account_service.simulator.venues.hyperliquid.render import SETTLE, coin, num

VENUE = "hyperliquid"
_USDC_TOKEN = {
    "name": SETTLE,
    "szDecimals": 8,
    "weiDecimals": 8,
    "index": 0,
    "tokenId": "0x6d1e7cde53ba9467b783cb7c530ce054",
    "isCanonical": True,
    "evmContract": None,
    "fullName": None,
}


def perps(world: World) -> list[Market]:
    """The venue's perps in universe order (index = ccxt market id)."""
    return sorted(
        (m for m in world.markets.get(VENUE, []) if m.kind == "swap"), key=lambda m: int(m.venue_id)
    )


def by_symbol(world: World) -> dict[str, Market]:
    return {m.symbol: m for m in perps(world)}


def sz_decimals(market: Market) -> int:
    return max(0, round(-math.log10(market.lot)))


def meta_and_asset_ctxs(world: World) -> list[Any]:
    universe: list[dict[str, Any]] = []
    contexts: list[dict[str, Any]] = []
    for market in perps(world):
        universe.append(
            {
                "name": coin(market),
                "szDecimals": sz_decimals(market),
                "maxLeverage": market.max_leverage,
                "marginTableId": market.max_leverage,
                "onlyIsolated": False,
            }
        )
        px = num(market.price)
        contexts.append(
            {
                "funding": "0.0000125",
                "openInterest": "1000.0",
                "prevDayPx": px,
                "dayNtlVlm": "1000000.0",
                "premium": "0.0",
                "oraclePx": px,
                "markPx": px,
                "midPx": px,
                "impactPxs": [px, px],
                "dayBaseVlm": "100.0",
            }
        )
    return [{"universe": universe, "marginTables": []}, contexts]


_HYPE_TOKEN = {
    **_USDC_TOKEN,
    "name": "HYPE",
    "szDecimals": 2,
    "index": 1,
    "tokenId": "0x0d01dc56dcaaca66ad901c959b4011ec",
    "isCanonical": False,
}


def spot_meta() -> dict[str, Any]:
    """USDC and HYPE tokens (spot wallet balances), no spot pairs."""
    return {"universe": [], "tokens": [dict(_USDC_TOKEN), dict(_HYPE_TOKEN)]}


def spot_meta_and_asset_ctxs() -> list[Any]:
    return [spot_meta(), []]


def perp_dexs() -> list[Any]:
    return [None]
