"""Real WebSocket frames of a venue, recorded from the simulator, and a replayer that feeds frames to
a ccxt.pro client connected to nothing, the way its socket reader would.

``record(venue)`` runs a real guarded ccxt client against the simulator until its ``watch_orders``
and ``watch_my_trades`` each returned, and keeps every text frame the client read, the markets it
loaded and the message hashes those watches waited on. ``Replayer`` then builds a fresh client on
the same markets with the producer's frame guard and session (``ws_guard.attach`` with
``AccountSession.on_bad_frame``), hands it frames through its socket client's ``handle_message``,
and turns what each frame resolved for those watches into what the producer would publish: ccxt's
new rows (its ``getLimit`` bookkeeping, as ``watch_*`` does) through the account's ``Normaliser``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ccxt.pro
from aiohttp import WSMessage, WSMsgType

from fullon_account_service.contract import Envelope, Source
from fullon_account_service.producers import ws_guard
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.normalise import DeadPayload, Normaliser
from fullon_account_service.producers.session import AccountSession
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator


@dataclass
class Recording:
    venue: str
    url: str
    frames: list[str]
    """Frames that resolved an order or trade watch."""
    hashes: set[str]
    ids: set[Any]
    """Order and trade ids the frames carry (bad frames are given others)."""
    loader: Any


@dataclass
class Output:
    """What one frame made the producer publish."""

    envelopes: list[Envelope] = field(default_factory=list)
    dead: list[DeadPayload] = field(default_factory=list)


def _klass(venue: str) -> Any:
    return ws_guard.guarded_class(getattr(ccxt.pro, venue))


async def record(venue: str) -> Recording:
    """Frames of one order placed and filled in two parts, as the venue's socket sent them."""
    async with Simulator(ScenarioConfig(venues=(venue,), accounts_per_venue=1, seed=5)) as sim:
        account = sim.world.accounts_of(venue)[0]
        exchange = _klass(venue)(sim.client_config(account))
        frames: list[tuple[str, str]] = []
        hashes: set[str] = set()
        results: list[Any] = []

        def wrap(client: Any) -> None:
            read, resolve = client.handle_message, client.resolve

            def recording_read(message: Any) -> None:
                if isinstance(message.data, str):
                    frames.append((str(client.url), message.data))
                read(message)

            def recording_resolve(result: Any, message_hash: Any) -> Any:
                if message_hash in client.futures:
                    hashes.add(message_hash)
                return resolve(result, message_hash)

            client.handle_message, client.resolve = recording_read, recording_resolve
            client._fuzz_recording = True

        async def watch(method: str) -> None:
            while True:
                results.append(await getattr(exchange, method)())

        try:
            await exchange.load_markets()
            watches = [asyncio.ensure_future(watch(m)) for m in ("watch_orders", "watch_my_trades")]
            market = sim.world.markets[venue][0]
            async with asyncio.timeout(60):
                while not _saw_both(results):
                    for client in exchange.clients.values():
                        if not getattr(client, "_fuzz_recording", False):
                            wrap(client)
                    if any(getattr(c, "_fuzz_recording", False) for c in exchange.clients.values()):
                        order = sim.ledger.place_order(
                            account, market.symbol, "buy", "limit", 2 * market.lot, market.price
                        )
                        sim.ledger.fill(account, order, market.lot, market.price, taker=False)
                        sim.ledger.fill(account, order, market.lot, market.price, taker=True)
                    await asyncio.sleep(0.5)
            for task in watches:
                task.cancel()
            await asyncio.gather(*watches, return_exceptions=True)
            rows = [row for result in results for row in result]
            ids = {row.get("id") for row in rows} | {row.get("order") for row in rows if "order" in row}
            ids |= {row.get("info", {}).get(k) for row in rows for k in ("oid", "tid", "orderId", "execId")}
            loader = _klass(venue)({})
            loader.set_markets_from_exchange(exchange)
        finally:
            await exchange.close()
    replay = Replayer(Recording(venue, "", [], hashes, set(), loader))
    useful = [(url, text) for url, text in frames if replay.feed(url, text).envelopes]
    await replay.close()
    url = useful[0][0]
    return Recording(venue, url, [text for _, text in useful], hashes, ids - {None}, loader)


def _saw_both(results: Sequence[Any]) -> bool:
    rows = [row for result in results for row in result]
    return any("status" in row for row in rows) and any("takerOrMaker" in row for row in rows)


class Replayer:
    """A fresh client and session on the recorded markets; ``feed`` one frame at a time."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        venue = recording.venue
        self.exchange = _klass(venue)({})
        self.exchange.set_markets_from_exchange(recording.loader)
        self.ref = AccountRef(ex_id=1, uid=1, venue=venue, name="fuzz")
        normaliser = Normaliser(self.ref, self.exchange.markets, self.exchange.safe_currency_code, lambda: 1)
        self.letters: list[DeadPayload] = []
        self.session = AccountSession(
            self.ref, self.exchange, normaliser, asyncio.Lock(), dead_letter=self.letters.append
        )
        ws_guard.attach(self.exchange, on_bad_frame=self.session.on_bad_frame)
        self._resolved: list[Any] = []
        self._clients: dict[str, Any] = {}

    def _client(self, url: str) -> Any:
        client = self._clients.get(url)
        if client is None:
            client = self.exchange.client(url)
            resolve = client.resolve

            def capture(result: Any, message_hash: Any) -> Any:
                if message_hash in self.recording.hashes and all(result is not r for r in self._resolved):
                    self._resolved.append(result)
                return resolve(result, message_hash)

            client.resolve = capture
            self._clients[url] = client
        return client

    def feed(self, url: str, text: str) -> Output:
        """One frame through the client's reader; what the producer publishes from it."""
        self._resolved.clear()
        self._client(url).handle_message(WSMessage(WSMsgType.TEXT, text, None))
        out = Output()
        normaliser = self.session.normaliser
        for result in self._resolved:
            limit = result.getLimit(None, None) if hasattr(result, "getLimit") else None
            rows = self.exchange.filter_by_symbol_since_limit(result, None, None, limit, True)
            orders = [r for r in rows if not isinstance(r, dict) or "takerOrMaker" not in r]
            trades = [r for r in rows if isinstance(r, dict) and "takerOrMaker" in r]
            for batch in (normaliser.orders(orders, Source.WS), normaliser.trades(trades, Source.WS)):
                out.envelopes += batch.envelopes
                out.dead += batch.dead
        return out

    async def close(self) -> None:
        await self.exchange.close()


def rekey(value: Any, ids: set[Any]) -> Any:
    """``value`` (parsed JSON) with every order or trade id replaced by one no good frame uses."""
    if isinstance(value, dict):
        return {k: rekey(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [rekey(v, ids) for v in value]
    if value in ids and not isinstance(value, bool):
        return value + 7_000_000_000 if isinstance(value, int) else f"{value}-bad"
    return value


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
