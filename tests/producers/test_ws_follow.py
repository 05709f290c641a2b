"""Orders and fills after the first message come from ccxt's cache without a ``watch_*`` call per
message, and a failed socket sends the loops back to ``watch_*``, which reconnects. Real ccxt
against the simulator; only the collector runs (no REST poller), so every fill on the bus came
over the WebSocket."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import ccxt
import ccxt.pro
import pytest
import redis.asyncio as aioredis
from aiohttp import WSMessage, WSMsgType
from producer_harness import (
    SUBSCRIBED,
    Binding,
    eventually,
    kraken_and_bybit,
    make_context,
    read_bus,
    trade_until,
)

from fullon_account_service.contract import Source, TradeFill
from fullon_account_service.producers import live_collector, ws_guard
from fullon_account_service.producers.context import ProducerContext
from fullon_account_service.producers.live_collector import LiveAccountCollector
from fullon_account_service.producers.ws_follow import FrameSignal, stream_gaps, streaming
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.server import Simulator

FOLLOWED = ("watch_orders", "watch_my_trades")


def _count_watches(monkeypatch: pytest.MonkeyPatch) -> Counter[tuple[str, str]]:
    """``watch_orders`` / ``watch_my_trades`` calls per (venue, method) from now on."""
    calls: Counter[tuple[str, str]] = Counter()
    for venue in ("kraken", "bybit"):
        klass = ws_guard.guarded_class(getattr(ccxt.pro, venue))
        for name in FOLLOWED:
            original = getattr(klass, name)

            async def counted(
                self: Any, *args: Any, _name: str = name, _run: Any = original, **kw: Any
            ) -> Any:
                calls[(self.id, _name)] += 1
                return await _run(self, *args, **kw)

            monkeypatch.setattr(klass, name, counted)
    return calls


def _record_covers(monkeypatch: pytest.MonkeyPatch) -> set[tuple[int, str]]:
    """(ex_id, kind) of every kind a collector loop asks REST to cover from now on."""
    covers: set[tuple[int, str]] = set()
    cover = live_collector._cover

    def recorded_cover(session: Any, kind: str) -> None:
        covers.add((session.ref.ex_id, kind))
        cover(session, kind)

    monkeypatch.setattr(live_collector, "_cover", recorded_cover)
    return covers


@asynccontextmanager
async def _collector_alone(
    settings: Settings, redis: aioredis.Redis, seed: int
) -> AsyncIterator[tuple[Simulator, list[Binding], ProducerContext]]:
    """``kraken_and_bybit``'s accounts collected by a ``LiveAccountCollector`` alone (no REST
    poller), stopped on the way out."""
    async with kraken_and_bybit(seed=seed) as (sim, bindings):
        ctx = make_context(sim, settings, redis, bindings)
        collector = LiveAccountCollector(context=ctx)
        try:
            for b in bindings:
                await collector.start_exchange(b.ref)
            yield sim, bindings, ctx
        finally:
            await collector.stop_collection()
            await ctx.close()


async def _ws_fills(redis: aioredis.Redis, prefix: str, bindings: Sequence[Binding]) -> None:
    fills = {
        (e.ex_id, e.payload.ex_trade_id)
        for e in await read_bus(redis, prefix)
        if isinstance(e.payload, TradeFill) and e.source is Source.WS
    }
    for b in bindings:
        truth = {(b.ref.ex_id, f.trade_id) for f in b.account.fills}
        assert truth <= fills, f"{b.ref.venue}: {len(truth - fills)} fills not on the bus from the stream"


async def _streaming(sim: Simulator, bindings: Sequence[Binding], redis: aioredis.Redis, prefix: str) -> None:
    """Every account subscribed, and its first fills on the bus from the stream."""
    for b in bindings:
        await sim.world.subscriptions.wait(b.account, SUBSCRIBED[b.ref.venue], timeout_s=60)
    await trade_until(sim, bindings, fills_per_venue=3)
    await eventually(lambda: _ws_fills(redis, prefix, bindings), timeout_s=60)


def _session(ctx: ProducerContext, bindings: Sequence[Binding], venue: str) -> tuple[Binding, Any]:
    binding = next(b for b in bindings if b.ref.venue == venue)
    session = ctx.registry.get(binding.ref.ex_id)
    assert session is not None
    return binding, session


async def _subscribed_again(
    sim: Simulator,
    bindings: Sequence[Binding],
    before: dict[str, int],
    channels: Mapping[str, set[str]] = SUBSCRIBED,
) -> None:
    for b in bindings:
        subs = sim.world.subscriptions.of(b.account)
        for channel in channels[b.ref.venue]:
            assert subs[channel].subscribes > before[f"{b.ref.venue}:{channel}"], f"{channel} not again"
            assert subs[channel].active > 0


async def test_later_messages_need_no_watch_call_and_a_failed_socket_reconnects(
    settings: Settings, redis_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_watches(monkeypatch)
    prefix = settings.stream_prefix
    async with _collector_alone(settings, redis_client, seed=83) as (sim, bindings, ctx):
        for b in bindings:
            await sim.world.subscriptions.wait(b.account, SUBSCRIBED[b.ref.venue], timeout_s=60)

        await trade_until(sim, bindings, fills_per_venue=12)
        await eventually(lambda: _ws_fills(redis_client, prefix, bindings), timeout_s=60)
        assert max(calls.values()) == 1, f"one watch call per stream, whatever the messages: {calls}"

        before = {
            f"{b.ref.venue}:{channel}": sim.world.subscriptions.of(b.account)[channel].subscribes
            for b in bindings
            for channel in SUBSCRIBED[b.ref.venue]
        }
        for b in bindings:
            session = ctx.registry.get(b.ref.ex_id)
            assert session is not None and streaming(session.client)
            for ws in list(session.client.clients.values()):
                ws.on_error(ccxt.RequestTimeout("test: the socket failed"))

        async def back_to_watch() -> None:
            assert min(calls.values()) >= 2, f"every followed stream went back to watch_*: {calls}"
            await _subscribed_again(sim, bindings, before)

        await eventually(back_to_watch, timeout_s=60)

        await trade_until(sim, bindings, fills_per_venue=24)
        await eventually(lambda: _ws_fills(redis_client, prefix, bindings), timeout_s=60)


async def test_a_socket_that_fails_while_only_followers_wait_is_reconciled(
    settings: Settings, redis_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the balance, position and ledger loops busy elsewhere (here: never back in ccxt), no
    ``watch_*`` call is pending when the socket fails, so ccxt rejects none: the followers going
    back to ``watch_*`` have REST cover their kinds until their streams speak again, and ask for
    the reconciliation a reconnect owes."""

    async def busy(*_args: Any, **_kwargs: Any) -> Any:
        await asyncio.Event().wait()

    for venue in ("kraken", "bybit"):
        klass = ws_guard.guarded_class(getattr(ccxt.pro, venue))
        for name in ("watch_balance", "watch_positions"):
            monkeypatch.setattr(klass, name, busy)
    monkeypatch.setattr(live_collector, "watch_ledger", busy)
    covers = _record_covers(monkeypatch)
    calls = _count_watches(monkeypatch)
    async with _collector_alone(settings, redis_client, seed=84) as (sim, bindings, ctx):
        await trade_until(sim, bindings, fills_per_venue=3)
        await eventually(
            lambda: _ws_fills(redis_client, prefix=settings.stream_prefix, bindings=bindings),
            timeout_s=60,
        )
        followed = {"kraken": {"executions"}, "bybit": {"execution", "order"}}
        before = {
            f"{b.ref.venue}:{channel}": sim.world.subscriptions.of(b.account)[channel].subscribes
            for b in bindings
            for channel in followed[b.ref.venue]
        }
        sessions = [ctx.registry.get(b.ref.ex_id) for b in bindings]
        for session in sessions:
            assert session is not None and streaming(session.client)
            session.reconcile_requested = False
            for ws in list(session.client.clients.values()):
                ws.on_error(ccxt.RequestTimeout("test: the socket failed"))

        async def subscribed_again() -> None:
            assert min(calls.values()) >= 2, f"every followed stream went back to watch_*: {calls}"
            await _subscribed_again(sim, bindings, before, followed)

        await eventually(subscribed_again, timeout_s=60)
        await trade_until(sim, bindings, fills_per_venue=6)

        async def covered_and_reconciled() -> None:
            assert covers >= {(b.ref.ex_id, k) for b in bindings for k in ("orders", "my_trades")}
            await _ws_fills(redis_client, settings.stream_prefix, bindings)
            assert all(s is not None and s.reconcile_requested for s in sessions)

        await eventually(covered_and_reconciled, timeout_s=60)


async def test_a_call_that_fails_on_an_open_socket_is_covered_but_reconciles_nothing(
    settings: Settings, redis_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ccxt fetches Kraken's WebSocket token again every 15 minutes inside ``watch_balance``; when
    that REST call times out the socket is still open and lost nothing: REST covers the balance
    until the stream speaks again, and no full reconciliation is asked for (at 1,000 accounts the
    refreshes come due together, bench/RESULTS.md "Stop 35")."""
    covers = _record_covers(monkeypatch)
    async with _collector_alone(settings, redis_client, seed=85) as (sim, bindings, ctx):
        await _streaming(sim, bindings, redis_client, settings.stream_prefix)

        kraken, session = _session(ctx, bindings, "kraken")
        client = session.client
        private = client.clients[client.urls["api"]["ws"]["private"]]
        private.subscriptions["authenticated"]["start"] -= 3600  # the token is due again
        fetch_token = client.privatePostGetWebSocketsToken
        failures: list[int] = []

        async def times_out_once(*args: Any, **kwargs: Any) -> Any:
            if not failures:
                failures.append(1)
                raise ccxt.RequestTimeout("test: the token read timed out")
            return await fetch_token(*args, **kwargs)

        monkeypatch.setattr(client, "privatePostGetWebSocketsToken", times_out_once)
        gaps = stream_gaps(client)
        session.reconcile_requested = False

        def covered_and_back() -> None:
            assert failures and (kraken.ref.ex_id, "balance") in covers
            assert "balance" not in session.fast_poll, "the balance stream spoke again"

        await trade_until(sim, bindings, fills_per_venue=6, also=covered_and_back)
        await eventually(lambda: _ws_fills(redis_client, settings.stream_prefix, bindings), timeout_s=60)
        assert stream_gaps(client) == gaps and streaming(client), "the socket stayed open"
        assert not session.reconcile_requested, "nothing was lost: no reconciliation"


def _frame(ws: Any, body: dict[str, Any]) -> None:
    """``body`` read off ``ws`` as the venue would send it: through the guard and ccxt's parser."""
    ws.handle_message(WSMessage(WSMsgType.TEXT, json.dumps(body), None))


REFUSED = {
    # the private socket's subscription ccxt files a fill stream under, and a refusal of it as
    # the venue words one: Kraken names the request's req_id, Bybit the subscription's
    "kraken": (
        "executions",
        lambda sub: {
            "method": "subscribe",
            "req_id": 987654,
            "error": "ESession:Invalid session",
            "success": False,
        },
    ),
    "bybit": (
        "myTrades",
        lambda sub: {
            "success": False,
            "ret_msg": "test: refused",
            "op": "subscribe",
            "req_id": str(sub["id"]),
        },
    ),
}


@pytest.mark.parametrize("venue", sorted(REFUSED))
async def test_a_refusal_no_pending_call_took_reopens_the_socket(
    venue: str, settings: Settings, redis_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refusal that comes while no call waits for it: ccxt keeps it for a later call of the hash
    the reply names, which on Kraken is the request's ``req_id`` (no call ever asks for it, and the
    refused subscription stays in ccxt's book as made: a silent stream on a socket that answers
    every ping). The socket is failed instead: REST covers the fills, every channel is subscribed
    again on a new socket, the next fills come over it and the account is reconciled."""
    covers = _record_covers(monkeypatch)
    async with _collector_alone(settings, redis_client, seed=86) as (sim, bindings, ctx):
        await _streaming(sim, bindings, redis_client, settings.stream_prefix)
        binding, session = _session(ctx, bindings, venue)
        hash_, refusal = REFUSED[venue]
        socket = next(ws for ws in session.client.clients.values() if hash_ in ws.subscriptions)
        before = {
            f"{venue}:{channel}": sim.world.subscriptions.of(binding.account)[channel].subscribes
            for channel in SUBSCRIBED[venue]
        }
        session.reconcile_requested = False
        _frame(socket, refusal(socket.subscriptions[hash_]))
        assert socket.error is not None, "the socket was failed at once"

        await eventually(lambda: _subscribed_again(sim, [binding], before), timeout_s=60)
        assert socket not in session.client.clients.values(), "ccxt dropped the old socket"
        assert (binding.ref.ex_id, "my_trades") in covers
        seen = len(binding.account.fills)

        def traded() -> None:
            assert len(binding.account.fills) >= seen + 6

        async def streamed() -> None:
            fills = {
                e.payload.ex_trade_id
                for e in await read_bus(redis_client, settings.stream_prefix)
                if isinstance(e.payload, TradeFill) and e.source is Source.WS and e.ex_id == binding.ref.ex_id
            }
            assert {f.trade_id for f in binding.account.fills[seen:]} <= fills

        await trade_until(sim, bindings, fills_per_venue=1, also=traded)
        await eventually(streamed, timeout_s=60)
        assert session.reconcile_requested, "asked for once a stream spoke again"


async def test_a_follower_wakes_only_for_its_rows_and_on_every_socket_end() -> None:
    signal = FrameSignal()
    rows = {"orders": False, "fills": False}
    orders = asyncio.ensure_future(signal.wait(lambda: rows["orders"]))
    fills = asyncio.ensure_future(signal.wait(lambda: rows["fills"]))
    await asyncio.sleep(0)

    signal.frame()
    await asyncio.sleep(0)
    assert not orders.done() and not fills.done(), "a frame that left no rows wakes no one"

    rows["orders"] = True
    signal.frame()
    await asyncio.wait_for(orders, timeout=5)
    assert not fills.done()

    signal.ended()
    await asyncio.wait_for(fills, timeout=5)  # a socket that ended wakes every follower
    rows["fills"] = True
    await asyncio.wait_for(signal.wait(lambda: rows["fills"]), timeout=5)  # rows there: no wait
