"""A Hyperliquid WebSocket position message covers the main dex only: with HIP-3 dexes in the
markets it must not close their positions, and a REST read of every dex settles what it left out."""

from __future__ import annotations

import redis.asyncio as aioredis
from producer_harness import bind_accounts, eventually, make_context, read_bus

from fullon_account_service.contract import PositionSnapshot
from fullon_account_service.producers.live_collector import LiveAccountCollector
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

HYPERLIQUID = ScenarioConfig(venues=("hyperliquid",), accounts_per_venue=1, seed=5)
ENTRY = 12_345.5


async def _ours(redis: aioredis.Redis, prefix: str, ex_id: int) -> list[PositionSnapshot]:
    """The WebSocket snapshots holding the test's own row (the simulator's stream runs beside)."""
    return [
        e.payload
        for e in await read_bus(redis, prefix)
        if e.ex_id == ex_id
        and isinstance(e.payload, PositionSnapshot)
        and any(p.entry_price == ENTRY for p in e.payload.positions)
    ]


async def test_ws_positions_with_hip3_dexes_are_partial_and_ask_for_rest(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    async with Simulator(HYPERLIQUID) as sim:
        [binding] = bind_accounts(sim)
        ctx = make_context(sim, settings, redis_client, [binding])
        collector = LiveAccountCollector(context=ctx)
        await collector.start_exchange(binding.ref)
        try:
            await eventually(lambda: _assert(ctx.registry.get(binding.ref.ex_id) is not None), timeout_s=30)
            session = ctx.registry.get(binding.ref.ex_id)
            assert session is not None
            await eventually(lambda: _assert(bool(session.client.markets)), timeout_s=30)
            row = {"symbol": "BTC/USDC:USDC", "side": "long", "contracts": 0.5, "entryPrice": ENTRY}

            prefix, ex_id = settings.stream_prefix, binding.ref.ex_id
            await collector.on_position_update(binding.ref, [row])
            await eventually(lambda: _published(redis_client, prefix, ex_id, 1), timeout_s=30)
            [plain] = await _ours(redis_client, prefix, ex_id)
            assert not plain.partial, "without HIP-3 dexes the stream's snapshot is complete"

            session.rest_once.clear()
            session.client.markets["XYZ-TSLA/USDC:USDC"] = {"baseName": "xyz:TSLA", "id": "xyz:TSLA"}
            # a changed position (the same one again would be dropped as a repeat)
            await collector.on_position_update(binding.ref, [{**row, "contracts": 0.6}])
            await eventually(lambda: _published(redis_client, prefix, ex_id, 2), timeout_s=30)
            hip3 = (await _ours(redis_client, prefix, ex_id))[-1]
            assert hip3.partial, "a main-dex message must not close HIP-3 positions"
            assert "positions" in session.rest_once
        finally:
            await collector.stop_collection()
            await ctx.close()


async def _published(redis: aioredis.Redis, prefix: str, ex_id: int, count: int) -> None:
    assert len(await _ours(redis, prefix, ex_id)) >= count


def _assert(condition: bool) -> None:
    assert condition
