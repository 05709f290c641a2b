"""WebSocket loops are supervised: a failing message is dead-lettered and the loop goes on, one
kind's failure restarts that kind only, a rejected key on a stream puts the account in error, and
the daemon restarts an account whose loops died. Real ccxt against the simulator."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis
from producer_harness import RecordingSensor, bind_accounts, credentials_env, eventually, make_context

from fullon_account_service.bus.streams import ENTRY_FIELD, dead_letter_key, stream_key
from fullon_account_service.contract import OrderUpdate, decode
from fullon_account_service.producers.daemon import AccountDaemon
from fullon_account_service.producers.live_collector import LiveAccountCollector
from fullon_account_service.producers.session import AccountSession
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.model import SimAccount, SimOrder
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

KRAKEN = ScenarioConfig(venues=("kraken",), accounts_per_venue=1, seed=31)


class Sensor(RecordingSensor):
    def __init__(self) -> None:
        super().__init__()
        self.restarts: list[str] = []

    def on_ws_loop_restart(self, exchange: str, kind: str) -> None:
        self.restarts.append(kind)


def _place(sim: Simulator, account: SimAccount) -> SimOrder:
    market = sim.world.markets[account.venue][0]
    return sim.ledger.place_order(account, market.symbol, "buy", "limit", market.lot, market.price * 0.5)


async def _order_ids(redis: aioredis.Redis, prefix: str) -> set[str]:
    out = set()
    for _, fields in await redis.xrange(stream_key(prefix, "order")):
        payload = decode(fields[ENTRY_FIELD]).payload
        if isinstance(payload, OrderUpdate):
            out.add(payload.ex_order_id)
    return out


class FailsOnce(LiveAccountCollector):
    """Publishing the first order message raises, as a normaliser bug would."""

    failed = False

    async def on_order_update(self, exchange: Any, orders: list[dict[str, Any]]) -> None:
        if not self.failed and orders:
            self.failed = True
            raise RuntimeError("normaliser bug")
        await super().on_order_update(exchange, orders)


async def test_a_message_that_fails_is_dead_lettered_and_the_loop_goes_on(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    prefix = settings.stream_prefix
    async with Simulator(KRAKEN) as sim:
        [binding] = bind_accounts(sim)
        ctx = make_context(sim, settings, redis_client, [binding])
        collector = FailsOnce(context=ctx)
        await collector.start_exchange(binding.ref)
        try:
            await sim.world.subscriptions.wait(binding.account, {"executions"}, timeout_s=30)
            first = _place(sim, binding.account)
            await eventually(lambda: _assert(collector.failed), timeout_s=60)
            second = _place(sim, binding.account)

            async def published() -> None:
                assert second.order_id in await _order_ids(redis_client, prefix)

            await eventually(published, timeout_s=60)
            letters = [f for _, f in await redis_client.xrange(dead_letter_key(prefix))]
            [letter] = [f for f in letters if b"not handled" in f[b"reason"]]
            assert b"RuntimeError: normaliser bug" in letter[b"reason"]
            assert first.order_id.encode() in letter[b"payload"]
            assert binding.account.secret.encode() not in letter[b"payload"]
            assert collector.is_collecting(binding.ref)
        finally:
            await collector.stop_collection()
            await ctx.close()


class BalanceLoopDiesOnce(LiveAccountCollector):
    died = False

    async def _watch(self, session: AccountSession, kind: str) -> None:
        if kind == "balance" and not self.died:
            self.died = True
            raise RuntimeError("balance loop bug")
        await super()._watch(session, kind)


async def test_one_kinds_failure_restarts_that_kind_only(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    prefix = settings.stream_prefix
    async with Simulator(KRAKEN) as sim:
        [binding] = bind_accounts(sim)
        sensor = Sensor()
        ctx = make_context(sim, settings, redis_client, [binding], sensor=sensor)
        collector = BalanceLoopDiesOnce(context=ctx)
        await collector.start_exchange(binding.ref)
        try:
            await sim.world.subscriptions.wait(binding.account, {"executions", "balances"}, timeout_s=30)
            assert sensor.restarts == ["balance"]
            order = _place(sim, binding.account)

            async def published() -> None:
                assert order.order_id in await _order_ids(redis_client, prefix)
                assert await redis_client.xlen(stream_key(prefix, "balance")) > 0

            await eventually(published, timeout_s=60)
            subscriptions = sim.world.subscriptions.of(binding.account)
            assert subscriptions["executions"].subscribes == 1, "the orders stream was restarted too"
            assert sensor.restarts == ["balance"] and collector.is_collecting(binding.ref)
        finally:
            await collector.stop_collection()
            await ctx.close()


async def test_rejected_key_on_a_stream_puts_the_account_in_error(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    async with Simulator(KRAKEN) as sim:
        [binding] = bind_accounts(sim)
        env = credentials_env([binding])
        wrong = "A" * 86 + "=="
        env[f"EX_ID_{binding.ref.ex_id}_SECRET"] = wrong
        ctx = make_context(sim, settings, redis_client, [binding], env=env)
        collector = LiveAccountCollector(context=ctx)
        await collector.start_exchange(binding.ref)
        try:

            def in_error() -> None:
                status, message = ctx.status.get(binding.ref.ex_id, ("", ""))
                assert status == "error", (status, message)
                assert "stream credentials rejected" in message and "Invalid key" in message

            await eventually(in_error, timeout_s=30)
            assert wrong not in ctx.status[binding.ref.ex_id][1]
            assert collector.is_collecting(binding.ref)
        finally:
            await collector.stop_collection()
            await ctx.close()


async def test_daemon_restarts_an_account_whose_loops_died(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    async with Simulator(KRAKEN) as sim:
        [binding] = bind_accounts(sim)
        ctx = make_context(sim, settings, redis_client, [binding])
        daemon = AccountDaemon(settings=settings, context=ctx, supervise_interval_s=0.2)
        await daemon.process_exchange(binding.ref)
        try:
            collector = daemon.live_collector
            assert collector is not None and collector.is_collecting(binding.ref)
            await sim.world.subscriptions.wait(binding.account, {"executions"}, timeout_s=30)
            task = collector._loops[binding.ref.ex_id]
            assert task is not None
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            assert not collector.is_collecting(binding.ref)

            await eventually(lambda: _assert(collector.is_collecting(binding.ref)), timeout_s=30)
            assert collector._loops[binding.ref.ex_id] is not task
            order = _place(sim, binding.account)

            async def published() -> None:
                assert order.order_id in await _order_ids(redis_client, settings.stream_prefix)

            await eventually(published, timeout_s=60)
        finally:
            await daemon.stop()


def _assert(condition: bool) -> None:
    assert condition
