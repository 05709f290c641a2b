"""REST reads that may span many pages, per venue, as ccxt 4.5.90 lets us page them.

- kraken: TradesHistory / ClosedOrders answer 50 rows per call, newest first; ccxt has no
  pagination for them, so we page by hand with the venue's ``ofs`` offset.
- bybit: history and executions are cursor-paged (``nextPageCursor``) and split by category;
  ccxt's own ``paginate`` follows the cursor, once per category (linear perps, spot).
- hyperliquid: ``userFillsByTime`` returns at most 2,000 fills from ``startTime``; we move
  ``since`` forward by hand while pages come back full.
- anything else: one call.
Every function is bounded (``max_pages``) so a venue that keeps answering cannot trap a poller.
"""

from __future__ import annotations

from typing import Any

from fullon_account_service.producers.session import AccountSession
from fullon_account_service.producers.venue_reads import FILL_PARAMS

KRAKEN_PAGE = 50
HYPERLIQUID_FILL_PAGE = 2000
MAX_PAGES = 50
_BYBIT_CATEGORIES: tuple[dict[str, Any], ...] = ({"type": "swap", "subType": "linear"}, {"type": "spot"})
_BYBIT_PAGINATE = {"paginate": True, "paginationCalls": MAX_PAGES}


def _categories(session: AccountSession) -> tuple[dict[str, Any], ...]:
    return _BYBIT_CATEGORIES if session.ref.venue == "bybit" else ({},)


def _closed_method(session: AccountSession) -> str:
    has = session.client.has
    return (
        "fetch_canceled_and_closed_orders"
        if has.get("fetchCanceledAndClosedOrders")
        else "fetch_closed_orders"
    )


async def _kraken_pages(session: AccountSession, method: str, since: int | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for page_number in range(MAX_PAGES):
        page = await session.call(method, None, since, None, {"ofs": page_number * KRAKEN_PAGE})
        rows.extend(page)
        if len(page) < KRAKEN_PAGE:
            break
    return rows


async def fetch_open_orders(session: AccountSession) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for category in _categories(session):
        params = {**category, **_BYBIT_PAGINATE} if session.ref.venue == "bybit" else category
        rows.extend(await session.call("fetch_open_orders", None, None, None, params))
    return rows


async def fetch_closed_orders(session: AccountSession, since: int | None) -> list[dict[str, Any]]:
    method = _closed_method(session)
    if session.ref.venue == "kraken":
        return await _kraken_pages(session, method, since)
    rows: list[dict[str, Any]] = []
    for category in _categories(session):
        params = {**category, **_BYBIT_PAGINATE} if session.ref.venue == "bybit" else category
        rows.extend(await session.call(method, None, since, None, params))
    return rows


async def fetch_fills(session: AccountSession, since: int) -> list[dict[str, Any]]:
    venue = session.ref.venue
    if venue == "kraken":
        return await _kraken_pages(session, "fetch_my_trades", since)
    if venue == "bybit":
        rows: list[dict[str, Any]] = []
        for category in _BYBIT_CATEGORIES:
            params = {**category, **_BYBIT_PAGINATE, **FILL_PARAMS["bybit"]}
            rows.extend(await session.call("fetch_my_trades", None, since, None, params))
        return rows
    if venue == "hyperliquid":
        return await _forward_pages(session, since, HYPERLIQUID_FILL_PAGE)
    result: list[dict[str, Any]] = await session.call("fetch_my_trades", None, since)
    return result


async def _forward_pages(session: AccountSession, since: int, page_size: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        page = await session.call("fetch_my_trades", None, since)
        fresh = [r for r in page if str(r.get("id")) not in seen]
        rows.extend(fresh)
        seen.update(str(r.get("id")) for r in fresh)
        stamps = [r["timestamp"] for r in page if isinstance(r.get("timestamp"), int)]
        if len(page) < page_size or not fresh or not stamps or max(stamps) <= since:
            break
        since = max(stamps)
    return rows


def has_positions(session: AccountSession) -> bool:
    """Positions exist only where the venue lists contracts (Kraken spot never has any)."""
    if not session.client.has.get("fetchPositions"):
        return False
    return any(m.get("contract") for m in session.client.markets.values())
