"""Hyperliquid's two wallets. It pushes its perp account (``clearinghouseState``), not its spot
wallet, and the balance published is the two summed per currency. A spot fill or order moves the
spot wallet unseen: until a REST read of it sent after the move, a perp push would publish (and
anchor) a sum whose spot part is stale, a total that looks right and is not. So the sums are held
back and one REST balance read is asked for; the read that ends the hold publishes the whole
account. A unified account holds everything in its spot wallet."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import redis.asyncio as aioredis
from producer_harness import bind_accounts, eventually, make_context, read_bus

from fullon_account_service.contract import BalanceSnapshot, Envelope, Source
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.clock_skew import ClockSkew
from fullon_account_service.producers.normalise import Normaliser
from fullon_account_service.producers.session import AccountSession
from fullon_account_service.producers.ws_messages import MessageHandlers
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

MARKETS = {"PURR/USDC", "BTC/USDC:USDC"}


def _normaliser(venue: str = "hyperliquid") -> Normaliser:
    return Normaliser(AccountRef(ex_id=3, uid=1, venue=venue), MARKETS, lambda c: c, lambda: 1)


def _perp(account_value: str) -> dict[str, Any]:
    state = {"marginSummary": {"accountValue": account_value, "totalMarginUsed": "0"}, "assetPositions": []}
    return {"info": state}


def _spot(usdc: float, purr: float) -> dict[str, Any]:
    rows = [
        {"coin": "USDC", "hold": "0", "total": str(usdc)},
        {"coin": "PURR", "hold": "0", "total": str(purr)},
    ]
    return {
        "info": {"balances": rows},
        "USDC": {"total": usdc, "free": usdc, "used": 0.0},
        "PURR": {"total": purr, "free": purr, "used": 0.0},
    }


def _fill(symbol: str, fill_id: str = "T1") -> dict[str, Any]:
    return {
        "id": fill_id,
        "order": "O1",
        "symbol": symbol,
        "side": "buy",
        "price": 2.0,
        "amount": 10.0,
        "cost": 20.0,
        "timestamp": 1_700_000_000_000,
        "fee": {"cost": 0.01, "currency": "USDC"},
        "takerOrMaker": "taker",
        "type": "limit",
    }


def _totals(envelopes: list[Envelope]) -> list[dict[str, float | None]]:
    out = []
    for e in envelopes:
        assert isinstance(e.payload, BalanceSnapshot)
        out.append({c: b.total for c, b in e.payload.balances.items()})
    return out


def test_a_spot_fill_holds_the_sums_until_a_spot_read_sent_after_it() -> None:
    n = _normaliser()
    n.ws_balances(_perp("1000"))
    assert _totals(n.rest_balances(_spot(500.0, 0.0)).envelopes) == [{"USDC": 1500.0, "PURR": 0.0}]

    sent_before = n.wallet_ticket()
    assert n.trades([_fill("PURR/USDC")], Source.WS).wallet_moved
    assert not n.ws_balances(_perp("990")).envelopes, "a perp push would sum a stale spot part"
    late = n.rest_balances(_spot(500.0, 0.0), Source.REST, sent_before)
    assert not late.envelopes, "an answer to a request sent before the fill does not end the hold"

    sent_after = n.wallet_ticket()
    (snapshot,) = n.rest_balances(_spot(480.0, 10.0), Source.REST, sent_after).envelopes
    assert _totals([snapshot]) == [{"USDC": 1470.0, "PURR": 10.0}], "the last perp push + the new spot read"
    assert isinstance(snapshot.payload, BalanceSnapshot) and not snapshot.payload.partial
    assert _totals(n.ws_balances(_perp("995")).envelopes) == [{"USDC": 1475.0, "PURR": 10.0}]


def test_perp_fills_and_single_wallet_venues_move_nothing() -> None:
    n = _normaliser()
    n.ws_balances(_perp("1000"))
    n.rest_balances(_spot(500.0, 0.0))
    assert not n.trades([_fill("BTC/USDC:USDC")], Source.WS).wallet_moved
    assert not n.trades([_fill("PURR/USDC", "T2")], Source.REST).wallet_moved, "a REST read is no push"
    assert _totals(n.ws_balances(_perp("990")).envelopes) == [{"USDC": 1490.0, "PURR": 0.0}]
    kraken = Normaliser(AccountRef(ex_id=4, uid=1, venue="kraken"), {"BTC/USD"}, lambda c: c, lambda: 1)
    assert kraken.wallet_ticket() is None
    assert not kraken.trades([_fill("BTC/USD")], Source.WS).wallet_moved


def test_a_new_spot_fill_read_over_rest_owes_the_spot_wallet_a_read() -> None:
    """Fills a REST read finds new (a stream missed them, or they are left to REST) moved the
    spot wallet unseen too: the reconciler asks whether they did once they are on the bus."""
    n = _normaliser()
    n.ws_balances(_perp("1000"))
    n.rest_balances(_spot(500.0, 0.0))
    rest = n.trades([_fill("PURR/USDC")], Source.REST)
    assert not rest.wallet_moved, "a REST page says nothing until the bus tells what was new"
    assert not n.spot_moved([]), "no new fill"
    assert n.spot_moved(rest.envelopes)
    assert not n.ws_balances(_perp("990")).envelopes


async def _fill_over_ws(symbol: str) -> AccountSession:
    n = _normaliser()
    session = AccountSession(n.ref, SimpleNamespace(), n, asyncio.Lock())
    published: list[Envelope] = []

    async def publish(envelopes: list[Envelope], dead: object) -> list[Envelope]:
        published.extend(envelopes)
        return envelopes

    context = SimpleNamespace(
        registry=SimpleNamespace(get=lambda ex_id: session),
        outbox=SimpleNamespace(publish=publish),
        reconciler=SimpleNamespace(skew=ClockSkew(30_000)),
        detector=SimpleNamespace(capabilities=lambda r: {"orders": True, "my_trades": True}),
    )
    await MessageHandlers(context).on_trade_update(n.ref, [_fill(symbol)])  # type: ignore[arg-type]
    assert len(published) == 1, "the fill reached the bus"
    return session


async def test_a_spot_fill_over_websocket_asks_for_one_rest_balance_read() -> None:
    assert "balance" in (await _fill_over_ws("PURR/USDC")).rest_once
    assert "balance" not in (await _fill_over_ws("BTC/USDC:USDC")).rest_once


async def test_a_unified_account_publishes_its_spot_wallet_alone(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    """On a unified account (ccxt's ``enableUnifiedMargin``, from ``userAbstraction``) every
    balance sits in the spot wallet and ccxt reads it for both balance calls: it is published as
    the whole account, not held for a perp read that never comes, nor added to a perp account that
    describes no collateral."""
    async with Simulator(ScenarioConfig(venues=("hyperliquid",), accounts_per_venue=1, seed=5)) as sim:
        [binding] = bind_accounts(sim)
        ctx = make_context(sim, settings, redis_client, [binding])
        try:
            session = await ctx.registry.acquire(binding.ref)
            session.client.options["enableUnifiedMargin"] = True
            ctx.outbox.start()
            await ctx.reconciler.balance(session, Source.REST)
            spot = {name: b.total for name, b in sim.world.accounts_of("hyperliquid")[0].spot.items()}

            async def published() -> None:
                snapshots = [
                    e.payload
                    for e in await read_bus(redis_client, settings.stream_prefix)
                    if isinstance(e.payload, BalanceSnapshot)
                ]
                assert snapshots and not snapshots[-1].partial
                assert {c: b.total for c, b in snapshots[-1].balances.items()} == spot

            await eventually(published, timeout_s=30)
        finally:
            await ctx.close()
