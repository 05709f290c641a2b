"""Which REST reads cover a whole account, per venue: the wallets and perp dexes ccxt reads apart.

- hyperliquid: ``fetch_balance()`` reads the perp account (``clearinghouseState``) only; the spot
  wallet needs ``{"type": "spot"}`` (``spotClearinghouseState``). Positions of HIP-3 perp dexes
  need ``{"dex": name}`` (one ``clearinghouseState`` per dex); the dex names come from the loaded
  markets (a HIP-3 market's ``baseName`` is ``dex:COIN``).
- bybit: ccxt's ``fetch_my_trades`` asks for ``execType=Trade`` only, which leaves out
  liquidation takeovers (``BustTrade``) and auto-deleveraging (``AdlTrade``); an empty
  ``execType`` lists every execution (funding rows are dropped by the normaliser).
- everything else: one call, no parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def balance_params(venue: str) -> list[dict[str, Any]]:
    if venue == "hyperliquid":
        return [{}, {"type": "spot"}]
    return [{}]


def hip3_dexes(markets: Mapping[str, Any]) -> list[str]:
    names = set()
    for market in markets.values():
        base = str(market.get("baseName") or "") if isinstance(market, Mapping) else ""
        if ":" in base:
            names.add(base.split(":", 1)[0])
    return sorted(names)


def position_params(venue: str, markets: Mapping[str, Any]) -> list[dict[str, Any]]:
    if venue == "hyperliquid":
        return [{}, *({"dex": dex} for dex in hip3_dexes(markets))]
    return [{}]


FILL_PARAMS: dict[str, dict[str, Any]] = {"bybit": {"execType": ""}}
"""Extra ``fetch_my_trades`` parameters per venue."""
