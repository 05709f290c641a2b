"""Updates ccxt holds back: what a stream delivered while no ``watch_*`` call was waiting.

ccxt hands a message to a ``watch_*`` call only through a pending future (``Client.resolve``
resolves one if there is one), and caches the message's rows meanwhile. A row that arrives while
the collector is busy publishing the previous batch is therefore handed over only with the *next*
message on that channel: the tail of a burst of fills would wait for the account's next fill, or
for the next REST audit. After each handled message the collector takes those rows from the
cache itself, the way ``watch_*`` does with ``newUpdates`` (``getLimit`` marks them consumed).

The caches are small (``clients.WS_OPTIONS``): more rows than a cache holds between two reads
push the oldest out unread; the next audit reads them over REST (``clients.WS_OPTIONS`` says why
no reconciliation is asked for then). Once every cached row was handled, the cache is emptied
(``held_back``): the rows are of no further use to us.
"""

from __future__ import annotations

from typing import Any

from ccxt.async_support.base.ws.cache import ArrayCache

_CACHES = {"orders": "orders", "my_trades": "myTrades"}


def _cache(client: Any, kind: str) -> ArrayCache | None:
    name = _CACHES.get(kind)
    cache = getattr(client, name, None) if name else None
    return cache if isinstance(cache, ArrayCache) else None


def followed(kind: str) -> bool:
    """Whether ccxt keeps ``kind`` as rows the collector can take between frames (``ws_follow``)."""
    return kind in _CACHES


def rows_waiting(client: Any, kind: str) -> bool:
    """Whether ``held_back`` would take rows now; reads the cache's counters only."""
    cache = _cache(client, kind)
    return cache is not None and not cache._clear_all_updates and cache._all_new_updates > 0


def drop_raw(kind: str, rows: Any) -> None:
    """Empty the raw venue payload (``info``) of handled rows that ccxt goes on caching.

    Once published, a row's ``info`` (about as large as the parsed row) is of no use to us, and
    ccxt keeps the row until the cache is emptied (``held_back``, once no row is left unread) or
    newer rows push it out. Kraken merges an update of an order into the cached ``info``; with
    it emptied, the update is read on its own, as for an order ccxt no longer caches, and the
    normaliser completes it from its own memory of the order (``normalise.known_orders``)."""
    if kind not in _CACHES or not isinstance(rows, list):
        return
    for row in rows:
        if isinstance(row, dict) and "info" in row:
            row["info"] = {}


def held_back(client: Any, kind: str) -> list[Any]:
    """Rows of ``kind`` cached since the last ``watch_*`` returned, consumed; ``[]`` if none.

    When none are left, every row in the cache was handed over (and the collector calls this
    only once it handled them), so the cache is emptied: a handled row would otherwise stay
    until ``ordersLimit`` / ``tradesLimit`` newer ones push it out, forever on a quiet account,
    pinning the allocator's memory that the burst which brought it left otherwise free (issue 18).
    An update of an order no longer cached is read on its own, as ``drop_raw`` says."""
    cache = _cache(client, kind)
    if cache is None:
        return []
    # ``_clear_all_updates`` is set once the new rows were taken, until the next row arrives
    if cache._clear_all_updates:
        cache.clear()
        return []
    count = cache.getLimit(None, None) or 0
    if count <= 0:
        return []
    rows: list[Any] = client.filter_by_symbol_since_limit(cache, None, None, count, True)
    return rows
