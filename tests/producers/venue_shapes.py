"""A real ccxt client with the venue's markets (loaded from the simulator over 127.0.0.1) and a
normaliser for it, so hand-written payloads in the venue's real shapes go through ccxt's own
parsers and then ours."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import ccxt.pro as ccxtpro

from fullon_account_service.contract import OrderUpdate, Source, TradeFill
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.normalise import Normaliser
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator


@dataclass
class Venue:
    exchange: Any
    normaliser: Normaliser
    sim: Simulator

    def fills(self, rows: list[dict[str, Any]], source: Source) -> list[TradeFill]:
        batch = self.normaliser.trades(rows, source)
        assert not batch.dead, [d.reason for d in batch.dead]
        out = [e.payload for e in batch.envelopes]
        assert all(isinstance(p, TradeFill) for p in out)
        return out  # type: ignore[return-value]

    def fill(self, row: dict[str, Any], source: Source) -> TradeFill:
        (fill,) = self.fills([row], source)
        return fill

    def fill_event_id(self, row: dict[str, Any], source: Source) -> str:
        return self.normaliser.trades([row], source).envelopes[0].event_id

    def order(self, row: dict[str, Any], source: Source = Source.REST) -> OrderUpdate:
        batch = self.normaliser.orders([row], source)
        assert not batch.dead, [d.reason for d in batch.dead]
        (env,) = batch.envelopes
        assert isinstance(env.payload, OrderUpdate)
        return env.payload


@asynccontextmanager
async def venue(name: str) -> AsyncIterator[Venue]:
    async with Simulator(ScenarioConfig(venues=(name,), accounts_per_venue=1, seed=1)) as sim:
        account = sim.world.accounts_of(name)[0]
        exchange = getattr(ccxtpro, name)(sim.client_config(account))
        try:
            await exchange.load_markets()
            ref = AccountRef(ex_id=1, uid=1, venue=name)
            normaliser = Normaliser(ref, exchange.markets, exchange.safe_currency_code, lambda: 1)
            yield Venue(exchange, normaliser, sim)
        finally:
            await exchange.close()
