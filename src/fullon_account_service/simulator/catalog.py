"""The markets each simulated venue lists: small, fixed, and the same for every seed.

``venue_id`` is the venue's own market id as ccxt sees it on the wire: Kraken's pair key,
Bybit's instrument symbol, Hyperliquid's perp index in ``meta.universe``.
"""

from __future__ import annotations

from fullon_account_service.simulator.model import Market


def _kraken() -> list[Market]:
    rows = [
        ("BTC/USD", "BTC", "USD", "XXBTZUSD", 60_000.0, 0.1, 1e-8),
        ("ETH/USD", "ETH", "USD", "XETHZUSD", 3_000.0, 0.01, 1e-8),
        ("SOL/USD", "SOL", "USD", "SOLUSD", 150.0, 0.01, 1e-8),
        ("XRP/USD", "XRP", "USD", "XXRPZUSD", 0.6, 0.00001, 1e-8),
        ("LTC/USD", "LTC", "USD", "XLTCZUSD", 80.0, 0.01, 1e-8),
        ("ADA/USD", "ADA", "USD", "ADAUSD", 0.45, 0.000001, 1e-8),
        ("DOT/USD", "DOT", "USD", "DOTUSD", 7.0, 0.0001, 1e-8),
        ("ETH/BTC", "ETH", "BTC", "XETHXXBT", 0.05, 0.00001, 1e-8),
        ("BTC/EUR", "BTC", "EUR", "XXBTZEUR", 55_000.0, 0.1, 1e-8),
        ("ETH/EUR", "ETH", "EUR", "XETHZEUR", 2_750.0, 0.01, 1e-8),
    ]
    return [Market(s, b, q, "spot", vid, p, t, lot) for s, b, q, vid, p, t, lot in rows]


def _bybit() -> list[Market]:
    linear = [
        ("BTC", 60_000.0, 0.1, 0.001, 100),
        ("ETH", 3_000.0, 0.01, 0.01, 100),
        ("SOL", 150.0, 0.01, 0.1, 50),
        ("XRP", 0.6, 0.0001, 1.0, 50),
        ("DOGE", 0.15, 0.00001, 1.0, 50),
        ("LTC", 80.0, 0.01, 0.1, 50),
    ]
    spot = [("BTC", 60_000.0, 0.01, 0.000001), ("ETH", 3_000.0, 0.01, 0.00001)]
    markets = [
        Market(f"{b}/USDT:USDT", b, "USDT", "swap", f"{b}USDT", p, t, lot, settle="USDT", max_leverage=lev)
        for b, p, t, lot, lev in linear
    ]
    markets += [Market(f"{b}/USDT", b, "USDT", "spot", f"{b}USDT", p, t, lot) for b, p, t, lot in spot]
    return markets


def _hyperliquid() -> list[Market]:
    perps = [("BTC", 60_000.0, 5, 50), ("ETH", 3_000.0, 4, 50), ("SOL", 150.0, 2, 20), ("DOGE", 0.15, 0, 10)]
    return [
        Market(
            f"{coin}/USDC:USDC",
            coin,
            "USDC",
            "swap",
            str(index),
            price,
            price * 1e-5,
            10.0**-decimals,
            settle="USDC",
            max_leverage=lev,
        )
        for index, (coin, price, decimals, lev) in enumerate(perps)
    ]


def catalog() -> dict[str, list[Market]]:
    return {"kraken": _kraken(), "bybit": _bybit(), "hyperliquid": _hyperliquid()}
