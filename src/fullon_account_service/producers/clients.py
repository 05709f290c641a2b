"""ccxt.pro clients: one per account, markets loaded once per venue and shared.

Each venue gets one credential-less *market loader* client; it loads the markets once and every
account client of that venue is pointed at the same market tables with ccxt's
``set_markets_from_exchange`` (which assigns ``markets``, ``markets_by_id``, currencies and the
venue's helper maps by reference). A bad key on one account therefore never blocks market
loading for the others. All clients of a factory share one aiohttp session and one SSL context:
they are the bulk of a client's memory. The read-only tables ccxt builds from ``describe()`` for
every instance (``SHARED_TABLES``) are shared the same way, by the clients of a venue. Every class
is the venue's ccxt class with the frame guard and the key lock of ``ws_guard``. Once a venue's
markets are loaded, what is alive is taken out of the garbage collector's full passes
(``gc_freeze``): it stays for the process's life. That is done only while no account client of
the factory is alive: a client and its session hold each other (the session's bad-frame handler
is on the client), so a frozen one would never be freed after its account stopped. Sessions
load their venue's markets (``load_markets``) before they create their client for that reason.

Per-venue config overrides (URLs of the simulator, options) come from an injected mapping or from
the JSON file named by ``ACCOUNT_EXCHANGE_OVERRIDES``: ``{ccxt_id: {"urls": ..., "options": ...}}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
import ccxt.pro
import certifi

from fullon_account_service.errors import ConfigError, FatalError
from fullon_account_service.gc_freeze import freeze_permanent
from fullon_account_service.producers.ccxt_errors import translate
from fullon_account_service.producers.credentials import Credentials
from fullon_account_service.producers.ws_guard import guarded_class

OVERRIDES_ENV = "ACCOUNT_EXCHANGE_OVERRIDES"
WS_OPTIONS: dict[str, Any] = {
    "ordersLimit": 20,
    "tradesLimit": 20,
    "newUpdates": True,
    "ws": {"compress": 0},
}
"""ccxt keeps the last ``ordersLimit`` orders and ``tradesLimit`` fills each stream delivered
(1,000 each by default, ~2-3 KB apiece with their raw ``info``: at 100 each they were ~0.65 MiB
of a busy account's ~1 MiB of live objects, issue 18). With ``newUpdates`` each ``watch_*`` call
returns what arrived since the previous one, so the caches need to hold only what arrives while
one message is handled. What a burst pushes out unread (more than 20 rows of a stream while one
message is handled, or Kraken's snapshot of up to 50 fills on subscribe, which comes with a
reconciliation anyway) is read by the next audit, every ``ACCOUNT_POLL_INTERVAL`` while the
account trades. Asking for a reconciliation on each full cache was tried and not kept: at 10
accounts x 3,000 fills it re-read history on nearly every burst and left the producer 0.7 MiB
per account larger (bench/RESULTS.md, "Producer memory, fourth pass"). Nothing relies on an order
staying in ccxt's cache: Kraken merges an update into the cached copy of the order, and an
update of an order already pushed out is completed by the normaliser's own memory of the
order's facts (``normalise.known_orders``), tested per venue in
``tests/producers/test_evicted_orders.py``.

``compress: 0``: no permessage-deflate on the account's WebSocket. ccxt offers it by default, and
each connection then holds a zlib compressor and decompressor (~0.1-0.3 MB together) for private
streams of a few small messages a second; the producer's memory bench traced ~0.6 MiB per
account to them (issue 18). Kraken, Bybit and Hyperliquid serve uncompressed frames; a venue
that insists on the offer can have it back through ``ACCOUNT_EXCHANGE_OVERRIDES``
(``{"<venue>": {"options": {"ws": {"compress": 15}}}}``)."""
SHARED_TABLES = ("api", "exceptions", "httpExceptions", "has", "features", "timeframes")
"""The attributes a venue's clients share: the first client the factory builds for a venue keeps
its own, every later one is given them. ccxt's constructor deep-copies ``describe()`` into each
instance, so every client held its own copy: 27 KiB of a Kraken client's 46, 117 of Bybit's
136 (``api``, the REST endpoint table, alone 126 KiB deep), 16 of Hyperliquid's 28 (tracemalloc,
ccxt 4.5.90). ccxt writes to them only inside its constructor (``has_autocorrect``,
``features_generator``); afterwards it only reads them (error texts matched against
``exceptions``, capabilities looked up in ``has``). Every client of a venue is built from the
same config but for its credentials, which none of these depend on. ``options`` (written per
client: nonces, time differences, caches), ``urls`` (sandbox mode), ``fees`` and
``commonCurrencies`` (Kraken adds to it while it loads currencies) stay each client's own."""
CREDENTIAL_KEYS = frozenset({"apiKey", "secret", "password", "uid", "walletAddress", "privateKey", "token"})


def strip_credentials(config: Mapping[str, Any]) -> dict[str, Any]:
    """A client config without its secrets: what may be shared by every account of a venue."""
    return {k: v for k, v in config.items() if k not in CREDENTIAL_KEYS}


def load_overrides(env: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Per-venue overrides from the JSON file in ``ACCOUNT_EXCHANGE_OVERRIDES`` (empty if unset)."""
    path = (os.environ if env is None else env).get(OVERRIDES_ENV, "").strip()
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"{OVERRIDES_ENV}={path}: not a readable JSON file") from e
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ConfigError(f"{OVERRIDES_ENV}={path}: expected {{ccxt_id: {{urls, options}}}}")
    return {str(k).lower(): strip_credentials(v) for k, v in data.items()}


class ClientFactory:
    """Builds account clients and keeps the shared pieces (markets, session) alive."""

    def __init__(
        self,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        module: Any = ccxt.pro,
        timeout_ms: int = 10_000,
    ) -> None:
        self._overrides = {k.lower(): dict(v) for k, v in (overrides or {}).items()}
        self._module = module
        self._timeout_ms = timeout_ms
        self._loaders: dict[str, Any] = {}
        self._tables: dict[str, dict[str, Any]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._clients: weakref.WeakSet[Any] = weakref.WeakSet()
        self._session: aiohttp.ClientSession | None = None
        self._ssl = ssl.create_default_context(cafile=certifi.where())

    def _base_config(self, venue: str) -> dict[str, Any]:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._ssl, enable_cleanup_closed=True, limit=0)
            self._session = aiohttp.ClientSession(connector=connector)
        config: dict[str, Any] = {
            "enableRateLimit": True,
            "timeout": self._timeout_ms,
            "session": self._session,
            "ssl_context": self._ssl,
            "timeout_on_exit": 0,
            # ccxt keeps the body of each client's last REST response (a page of history: ~20 KiB
            # per account, the markets for a loader) only for its own error texts; the headers,
            # which ``ccxt_errors`` reads for Retry-After, are kept
            "enableLastHttpResponse": False,
        }
        override = self._overrides.get(venue, {})
        config.update(override)
        config["options"] = {**WS_OPTIONS, **override.get("options", {})}
        return config

    def _klass(self, venue: str) -> Any:
        klass = getattr(self._module, venue, None)
        if klass is None:
            raise FatalError(f"ccxt.pro has no exchange {venue!r}")
        return guarded_class(klass) if isinstance(klass, type) else klass

    def _build(self, venue: str, config: dict[str, Any]) -> Any:
        client = self._klass(venue)(config)
        tables = self._tables.setdefault(venue, {name: getattr(client, name) for name in SHARED_TABLES})
        for name, table in tables.items():
            setattr(client, name, table)
        return client

    def create(self, venue: str, credentials: Credentials) -> Any:
        """A new client for one account; markets are attached by ``ensure_markets``."""
        config = self._base_config(venue)
        config.update(credentials.ccxt_config(venue))
        client = self._build(venue, config)
        self._clients.add(client)
        return client

    async def load_markets(self, venue: str) -> Any:
        """The venue's market loader, its markets loaded over the network at most once; frozen out
        of the collector's passes if no account client is alive (see the module docstring)."""
        lock = self._locks.setdefault(venue, asyncio.Lock())
        async with lock:
            loader = self._loaders.get(venue)
            if loader is None:
                loader = self._build(venue, self._base_config(venue))
                try:
                    await loader.load_markets()
                except Exception as e:
                    await loader.close()
                    raise translate(e, f"{venue} load_markets", loader) from e
                self._loaders[venue] = loader
                if not self._clients:
                    freeze_permanent(venue)
        return loader

    async def ensure_markets(self, client: Any) -> None:
        """Give ``client`` the venue's markets, loading them over the network at most once."""
        if not client.markets:
            client.set_markets_from_exchange(await self.load_markets(client.id))

    async def close(self) -> None:
        loaders, self._loaders = self._loaders, {}
        for loader in loaders.values():
            await loader.close()
        if self._session is not None:
            await self._session.close()
            self._session = None
