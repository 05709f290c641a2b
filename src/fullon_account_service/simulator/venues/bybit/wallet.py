"""The Bybit ``UNIFIED`` wallet entry (``wallet-balance`` and the ``wallet`` topic), from the ledger.

Apart from ``render`` because the venue splits the ledger's single ``used`` into three numbers
(spot order locks, contract order margin, position margin) that need the account's open orders
and positions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from fullon_account_service.simulator.model import Market, SimAccount
from fullon_account_service.simulator.venues.bybit.render import MAINTENANCE_RATE, fmt


def _parts(account: SimAccount, markets: dict[str, Market]) -> dict[str, dict[str, float]]:
    """Per coin: spot order locks, contract order margin, position margin, unrealised pnl.

    The ledger's ``used`` is the sum of the first three; the venue reports them apart."""
    parts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for order in account.orders.values():
        market = markets.get(order.symbol)
        if (
            market is None
            or order.status != "open"
            or order.order_type != "limit"
            or order.price is None
            or order.resting_untriggered
        ):
            continue
        if market.kind == "spot":
            coin, amount = (market.quote, order.price * order.remaining)
            if order.side == "sell":
                coin, amount = market.base, order.remaining
            parts[coin]["locked"] += amount
        elif not order.reduce_only:
            parts[str(market.settle)]["order_im"] += order.price * order.remaining / (order.leverage or 1.0)
    for symbol, pos in account.positions.items():
        settle = str(markets[symbol].settle)
        parts[settle]["position_im"] += pos.margin
        parts[settle]["upnl"] += pos.unrealized_pnl
    return parts


def _usd_price(coin: str, markets: Iterable[Market]) -> float:
    if coin in ("USDT", "USDC", "USD"):
        return 1.0
    return next((m.price for m in markets if m.base == coin and m.quote == "USDT"), 0.0)


def wallet_entry(
    account: SimAccount, markets: dict[str, Market], coins: Iterable[str] = ()
) -> dict[str, Any]:
    """The ``UNIFIED`` account entry: every coin with a balance, plus ``coins`` even when zero.

    ``walletBalance`` is the ledger's total (realised); ``equity`` adds unrealised pnl. ``used`` is
    reported as ``locked`` (spot orders) + ``totalOrderIM`` + ``totalPositionIM``; the order margin
    takes the rounding remainder so the three add up to the ledger's ``used``.
    ``availableToWithdraw`` is empty, as a unified account sends it.
    """
    parts = _parts(account, markets)
    wanted = set(coins)
    rows: list[dict[str, Any]] = []
    totals: defaultdict[str, float] = defaultdict(float)
    for coin in sorted(account.balances):
        bal = account.balances[coin]
        if coin not in wanted and bal.total == 0 and bal.used == 0:
            continue
        p = parts.get(coin, {})
        locked, position_im = p.get("locked", 0.0), p.get("position_im", 0.0)
        order_im = max(round(bal.used - locked - position_im, 10), 0.0)
        upnl = p.get("upnl", 0.0)
        equity = bal.total + upnl
        usd = _usd_price(coin, markets.values())
        totals["equity"] += equity * usd
        totals["wallet"] += bal.total * usd
        totals["upnl"] += upnl * usd
        totals["im"] += (order_im + position_im) * usd
        totals["mm"] += position_im * usd * MAINTENANCE_RATE
        rows.append(
            {
                "coin": coin,
                "equity": fmt(equity),
                "usdValue": fmt(equity * usd),
                "walletBalance": fmt(bal.total),
                "locked": fmt(locked),
                "spotHedgingQty": "0",
                "borrowAmount": "0",
                "availableToWithdraw": "",
                "availableToBorrow": "",
                "accruedInterest": "0",
                "totalOrderIM": fmt(order_im),
                "totalPositionIM": fmt(position_im),
                "totalPositionMM": fmt(position_im * MAINTENANCE_RATE),
                "unrealisedPnl": fmt(upnl),
                "cumRealisedPnl": "0",
                "bonus": "0",
                "marginCollateral": True,
                "collateralSwitch": True,
            }
        )
    return {
        "accountType": "UNIFIED",
        "accountIMRate": fmt(totals["im"] / totals["equity"]) if totals["equity"] > 0 else "0",
        "accountMMRate": fmt(totals["mm"] / totals["equity"]) if totals["equity"] > 0 else "0",
        "accountLTV": "0",
        "totalEquity": fmt(totals["equity"]),
        "totalWalletBalance": fmt(totals["wallet"]),
        "totalMarginBalance": fmt(totals["equity"]),
        "totalAvailableBalance": fmt(totals["equity"] - totals["im"]),
        "totalPerpUPL": fmt(totals["upnl"]),
        "totalInitialMargin": fmt(totals["im"]),
        "totalMaintenanceMargin": fmt(totals["mm"]),
        "coin": rows,
    }
