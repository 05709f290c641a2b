"""A malformed or truncated WebSocket frame is dead-lettered and the socket goes on reading.

Real ccxt against the simulator: damaged frames are injected with the simulator's faults, then a
good frame follows on the same connection. It must reach the bus over WebSocket with no reconnect
(the simulator saw one subscription, the producer counted no reconnect): a socket left unread
after a bad frame is only read again once the keepalive gives up and it is reopened, which both
counts would show. No wall-clock window: on a loaded machine "within a second" measures the
machine. The dead letters must hold exactly the damaged frames the simulator counted.
"""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from producer_harness import RecordingSensor, bind_accounts, eventually, make_context

from fullon_account_service.bus.streams import ENTRY_FIELD, dead_letter_key, stream_key
from fullon_account_service.contract import OrderUpdate, Source, decode
from fullon_account_service.producers.live_collector import LiveAccountCollector
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.model import SimAccount, SimOrder
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

ORDER_CHANNEL = {"kraken": "executions", "bybit": "order"}
DAMAGE = ("malformed_frame", "truncated_frame")


def _place(sim: Simulator, account: SimAccount) -> SimOrder:
    market = sim.world.markets[account.venue][0]
    return sim.ledger.place_order(account, market.symbol, "buy", "limit", market.lot, market.price * 0.5)


async def _frame_letters(redis: aioredis.Redis, prefix: str) -> list[dict[bytes, bytes]]:
    rows = await redis.xrange(dead_letter_key(prefix))
    return [fields for _, fields in rows if b"bad websocket frame" in fields[b"reason"]]


@pytest.mark.parametrize("venue", ["kraken", "bybit"])
async def test_bad_frames_are_dead_lettered_and_the_next_frame_is_published_at_once(
    venue: str, settings: Settings, redis_client: aioredis.Redis
) -> None:
    prefix = settings.stream_prefix
    async with Simulator(ScenarioConfig(venues=(venue,), accounts_per_venue=1, seed=21)) as sim:
        [binding] = bind_accounts(sim)
        account, channel = binding.account, ORDER_CHANNEL[venue]
        sensor = RecordingSensor()
        ctx = make_context(sim, settings, redis_client, [binding], sensor=sensor)
        collector = LiveAccountCollector(context=ctx)
        await collector.start_exchange(binding.ref)
        try:
            await sim.world.subscriptions.wait(account, {channel}, timeout_s=30)
            counts = sim.world.fault_counts

            async def damaged(kind: str) -> None:
                setattr(sim.world.faults, f"{kind}_probability", 1.0)
                _place(sim, account)
                await eventually(lambda: _assert(counts.count(kind, venue) > 0), timeout_s=60)
                setattr(sim.world.faults, f"{kind}_probability", 0.0)

            for kind in DAMAGE:
                await damaged(kind)
            good = _place(sim, account)

            async def published() -> None:
                for _, fields in await redis_client.xrange(stream_key(prefix, "order")):
                    env = decode(fields[ENTRY_FIELD])
                    if isinstance(env.payload, OrderUpdate) and env.payload.ex_order_id == good.order_id:
                        assert env.source == Source.WS
                        return
                raise AssertionError(f"order {good.order_id} not on the bus yet")

            await eventually(published, timeout_s=60, every_s=0.05)
            subscription = sim.world.subscriptions.of(account)[channel]
            assert subscription.subscribes == 1 and subscription.active == 1, "the socket was reopened"
            assert sensor.reconnects == 0

            injected = sum(counts.count(kind, venue) for kind in DAMAGE)
            assert injected >= 2

            async def all_dead_lettered() -> None:
                letters = await _frame_letters(redis_client, prefix)
                assert len(letters) == injected, (len(letters), injected)

            await eventually(all_dead_lettered, timeout_s=60)
            for fields in await _frame_letters(redis_client, prefix):
                reason = fields[b"reason"].decode()
                assert f"{venue} ex_id={binding.ref.ex_id}" in reason
                assert fields[b"payload"].startswith(b"{") and len(fields[b"payload"]) <= 16 * 1024
                assert account.secret.encode() not in fields[b"payload"]
        finally:
            await collector.stop_collection()
            await ctx.close()


def _assert(condition: bool) -> None:
    assert condition
