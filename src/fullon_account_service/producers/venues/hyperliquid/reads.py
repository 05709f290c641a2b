"""Hyperliquid reads: the wallets and perp dexes ccxt reads apart.

``fetch_balance()`` reads the perp account (``clearinghouseState``) only; the spot wallet needs
``{"type": "spot"}`` (``spotClearinghouseState``), except on a unified account (``wallets``).
Positions of HIP-3 perp dexes need ``{"dex": name}`` (one ``clearinghouseState`` per dex); the
dex names come from the loaded markets (a HIP-3 market's ``baseName`` is ``dex:COIN``). One order
is ``fetch_order`` (``orderStatus`` by oid). Ledger rows are pushed only on subscriptions ccxt
never sends (``ledger_streams``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fullon_account_service.producers.venues.generic import reads as generic

query_order = generic.query_order
LEDGER_CHANNELS = ("userFundings", "userNonFundingLedgerUpdates")


def ledger_streams(client: Any) -> list[tuple[str, dict[str, Any], str]]:
    """The two ledger subscriptions of the account's address, on the socket ccxt uses."""
    address = str(getattr(client, "walletAddress", "") or "")
    url = client.urls["api"]["ws"]["public"]
    return [
        (
            url,
            {"method": "subscribe", "subscription": {"type": kind, "user": address}},
            f"fullon:{kind}:{address}",
        )
        for kind in LEDGER_CHANNELS
    ]


def balance_params() -> list[dict[str, Any]]:
    return [{}, {"type": "spot"}]


def wallets(client: Any) -> tuple[tuple[str, ...], str | None] | None:
    """A unified account (``userAbstraction`` ``unifiedAccount``, which ccxt caches as
    ``enableUnifiedMargin`` when it reads a balance) holds every balance in its spot wallet and
    pushes it (``spotState``); its perp account describes no collateral, and ccxt reads the spot
    wallet for both balance calls."""
    options = getattr(client, "options", None)
    if isinstance(options, Mapping) and options.get("enableUnifiedMargin") is True:
        return ("spot",), None
    return None


def hip3_dexes(markets: Mapping[str, Any]) -> list[str]:
    names = set()
    for market in markets.values():
        base = str(market.get("baseName") or "") if isinstance(market, Mapping) else ""
        if ":" in base:
            names.add(base.split(":", 1)[0])
    return sorted(names)


def position_params(markets: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{}, *({"dex": dex} for dex in hip3_dexes(markets))]
