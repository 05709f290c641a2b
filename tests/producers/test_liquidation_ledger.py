"""A liquidation on Bybit (take-over or ADL) or Hyperliquid: the venue lists a ledger row beside
the liquidation fill, which the producer publishes as a ``liquidation`` entry of amount 0 on the
position's symbol (the fill carries the money, so it is counted once), the ORM sink stores it and
the pnl report books it to the symbol. Real ccxt against the simulator, on a clock the test moves."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from history_harness import DAY_MS, Clock, bus_differences, orm_sink, producer, register, step, wall_ms
from producer_harness import bind_accounts, eventually, read_bus
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fullon_account_service.contract import LedgerEntry, LedgerReason, Source, TradeFill
from fullon_account_service.reports.pnl import build_report
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.model import ExecKind, SimFill
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator
from fullon_account_service.simulator.venues.hyperliquid import markets as hl_markets
from fullon_account_service.simulator.venues.hyperliquid.render import absorbed_liquidation
from fullon_account_service.storage.db.plain_reads import pnl_inputs


@pytest.mark.parametrize(
    ("venue", "kind", "raw_type"),
    [
        ("bybit", "bust", "LIQUIDATION"),
        ("bybit", "adl", "ADL"),
        ("hyperliquid", "liquidation", "liquidation"),
    ],
)
async def test_a_liquidation_is_a_ledger_entry_of_amount_zero_beside_its_fill(
    venue: str,
    kind: ExecKind,
    raw_type: str,
    settings: Settings,
    redis_client: aioredis.Redis,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock(wall_ms() - DAY_MS)
    config = ScenarioConfig(venues=(venue,), accounts_per_venue=1, seed=41, funding_every_s=3600)
    async with Simulator(config, now_ms=clock) as sim, orm_sink(settings, redis_client, session_factory):
        (binding,) = bind_accounts(sim, first_ex_id=await register(session_factory, sim))
        account = binding.account
        for _ in range(100):
            if account.positions:
                break
            step(sim, clock, 10, 1_000)
        symbol = sorted(account.positions)[0]
        fill = sim.ledger.liquidate(account, symbol, kind, account.positions[symbol].mark_price)
        [row] = [e for e in account.ledger if e.reason == "liquidation"]
        async with producer(sim, settings, redis_client, binding, clock) as p:
            clock.advance(1_000)
            await p.cycle(kinds=("fills", "ledger"), source=Source.RECONCILE)

        bus = [e.payload for e in await read_bus(redis_client, settings.stream_prefix)]
        [entry] = [p for p in bus if isinstance(p, LedgerEntry) and p.reason is LedgerReason.LIQUIDATION]
        assert (entry.ex_ledger_id, entry.symbol, entry.raw_type, entry.amount, entry.fee or 0.0) == (
            row.entry_id,
            symbol,
            raw_type,
            0.0,
            0.0,
        )
        assert entry.time_ms == fill.ts_ms
        assert [p for p in bus if isinstance(p, TradeFill) and p.ex_trade_id == fill.trade_id]

        async def reported() -> None:
            known, trades, charges = await pnl_inputs(settings.database_url, binding.ref.ex_id)
            assert known and [c for c in charges if c.reason == LedgerReason.LIQUIDATION]
            report = build_report(trades, charges)
            rows = [r for (s, _), r in report.symbols.items() if s == symbol]
            assert rows and sum(r.trades for r in rows) >= 1
            assert sum(r.liquidation for r in rows) == 0.0  # the fill's PnL is in trading PnL

        await eventually(reported, timeout_s=60)


async def test_hyperliquid_fills_on_the_other_side_of_a_liquidation_are_plain_fills(
    settings: Settings,
    redis_client: aioredis.Redis,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """A maker fill that took another account's liquidation carries that account's
    ``liquidation`` object; the producer publishes it as the plain fill the truth has."""
    clock = Clock(wall_ms() - DAY_MS)
    config = ScenarioConfig(venues=("hyperliquid",), accounts_per_venue=1, seed=41)
    async with Simulator(config, now_ms=clock) as sim:
        (binding,) = bind_accounts(sim, first_ex_id=await register(session_factory, sim))
        perps = hl_markets.by_symbol(sim.world)

        def absorbed() -> list[SimFill]:
            fills = binding.account.fills
            return [f for f in fills if f.symbol in perps and absorbed_liquidation(f, perps[f.symbol])]

        for _ in range(200):
            if absorbed():
                break
            step(sim, clock, 10, 1_000)
        assert absorbed(), "no maker fill took another account's liquidation"
        async with producer(sim, settings, redis_client, binding, clock) as p:
            clock.advance(1_000)
            await p.cycle(kinds=("fills",), source=Source.RECONCILE)
        bus = [e.payload for e in await read_bus(redis_client, settings.stream_prefix)]
        published = {p.ex_trade_id for p in bus if isinstance(p, TradeFill)}
        assert published >= {f.trade_id for f in absorbed()}
        assert not await bus_differences(sim, redis_client, settings, binding, ("fill",))
