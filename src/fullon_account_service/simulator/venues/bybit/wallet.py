"""The Bybit ``UNIFIED`` wallet entry (``wallet-balance`` and the ``wallet`` topic), from the ledger.

Apart from ``render`` because the venue splits the ledger's single ``used`` into three numbers
(spot order locks, contract order margin, position margin) that need the account's open orders
and positions. The wallet is rendered after every balance change, and an account's orders only
grow over a run, so the open ones are kept apart (``OpenOrders``, from the ledger's
``OrderChanged`` notifications) instead of being found by a scan of every order ever placed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from fullon_account_service.simulator.model import Change, Market, OrderChanged, SimAccount, SimOrder, World
from fullon_account_service.simulator.venues.bybit.render import MAINTENANCE_RATE, fmt


class OpenOrders:
    """Each account's open orders: every order is placed and changes status with an
    ``OrderChanged`` (``simulator.ledger``), which this listens to; orders open before it was
    attached are taken from ``account.orders`` then."""

    def __init__(self, world: World) -> None:
        self._accounts = world.accounts_of("bybit")
        self._open: dict[tuple[str, int], dict[str, SimOrder]] = {}

    def __call__(self, account: SimAccount, change: Change) -> None:
        if isinstance(change, OrderChanged):
            held = self._open.setdefault((account.venue, account.index), {})
            if change.order.status == "open":
                held[change.order.order_id] = change.order
            else:
                held.pop(change.order.order_id, None)

    def of(self, account: SimAccount) -> Iterable[SimOrder]:
        return self._open.get((account.venue, account.index), {}).values()

    def attach(self) -> None:
        for account in self._accounts:
            opened = {o.order_id: o for o in account.orders.values() if o.status == "open"}
            self._open[(account.venue, account.index)] = opened
            account.listeners.insert(0, self)

    def detach(self) -> None:
        for account in self._accounts:
            if self in account.listeners:
                account.listeners.remove(self)


OPEN_ORDERS: web.AppKey[OpenOrders] = web.AppKey("bybit_open_orders")


def install(app: web.Application, world: World) -> None:
    """Keep the app's accounts' open orders (``app[OPEN_ORDERS]``) while it runs."""
    index = app[OPEN_ORDERS] = OpenOrders(world)
    index.attach()

    async def detach(_: web.Application) -> None:
        index.detach()

    app.on_cleanup.append(detach)


def _parts(
    account: SimAccount, markets: dict[str, Market], orders: Iterable[SimOrder]
) -> dict[str, dict[str, float]]:
    """Per coin: spot order locks, contract order margin, position margin, unrealised pnl.

    The ledger's ``used`` is the sum of the first three; the venue reports them apart."""
    parts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for order in orders:
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
    account: SimAccount,
    markets: dict[str, Market],
    coins: Iterable[str] = (),
    open_orders: Iterable[SimOrder] | None = None,
) -> dict[str, Any]:
    """The ``UNIFIED`` account entry: every coin with a balance, plus ``coins`` even when zero.

    ``walletBalance`` is the ledger's total (realised); ``equity`` adds unrealised pnl. ``used`` is
    reported as ``locked`` (spot orders) + ``totalOrderIM`` + ``totalPositionIM``; the order margin
    takes the rounding remainder so the three add up to the ledger's ``used``.
    ``availableToWithdraw`` is empty, as a unified account sends it. ``open_orders``: the account's
    open orders when known (``OpenOrders``), else every order is looked at.
    """
    orders = account.orders.values() if open_orders is None else open_orders
    parts = _parts(account, markets, orders)
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
