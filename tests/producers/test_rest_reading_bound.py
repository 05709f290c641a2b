"""At most ``ACCOUNT_MAX_AUDITS`` audits hold a venue's answer at once: the others wait their turn,
and every account's audit still happens (a burst's audits come due together at 100 accounts, each
holding its decoded page and the events made from it until the bus takes them). A reconciliation
(start, reconnect) never waits for an audit's place, nor do the kinds an account polls (Kraken's
positions): a waiting audit reads them at once. A place is held from a request's sending to the
read's next request (``read_places``): an audit the venue's rate limit holds back holds none."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import redis.asyncio as aioredis
from producer_harness import bind_accounts, make_context

from fullon_account_service.contract import Source
from fullon_account_service.producers import read_places
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.context import ProducerContext
from fullon_account_service.producers.normalise import Normaliser
from fullon_account_service.producers.rest_poller import RestAccountPoller
from fullon_account_service.producers.session import AccountSession
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator


async def test_audits_beyond_the_bound_wait_for_one_to_end(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    ctx = ProducerContext.from_settings(
        replace(settings, max_audits=2), redis=redis_client, overrides={}, env={}
    )
    inside: set[int] = set()
    most = 0
    done: list[int] = []
    polled: dict[int, tuple[str, ...]] = {}
    release = asyncio.Event()
    entered = asyncio.Condition()

    async def read(session: AccountSession, kinds: tuple[str, ...], source: Source) -> None:
        nonlocal most
        if kinds == ("positions",):
            polled[session.ref.ex_id] = kinds
            return
        await read_places.take()  # its first request goes out
        async with entered:
            inside.add(session.ref.ex_id)
            most = max(most, len(inside))
            entered.notify_all()
        await release.wait()
        inside.discard(session.ref.ex_id)
        done.append(session.ref.ex_id)

    ctx.reconciler.run = read  # type: ignore[method-assign]
    poller = RestAccountPoller(context=ctx, poll_interval=60.0)
    sessions = []
    for ex_id in range(1, 6):
        ref = AccountRef(ex_id=ex_id, uid=1, venue="kraken")
        sessions.append(AccountSession(ref, None, Normaliser(ref, set(), str), asyncio.Lock()))
    async with asyncio.timeout(60), asyncio.TaskGroup() as group:
        for session in sessions:
            group.create_task(poller._read(session, False))
        async with entered:
            await entered.wait_for(lambda: len(inside) == 2)
        for _ in range(20):  # the other three had every chance to start: they are waiting
            await asyncio.sleep(0)
        assert len(inside) == 2 and not done
        assert sorted(polled) == [3, 4, 5]
        ref = AccountRef(ex_id=6, uid=1, venue="kraken")
        reconnected = AccountSession(ref, None, Normaliser(ref, set(), str), asyncio.Lock())
        group.create_task(poller._read(reconnected, True))
        async with entered:
            await entered.wait_for(lambda: 6 in inside)
        release.set()
    assert most == 3
    assert sorted(done) == [1, 2, 3, 4, 5, 6]
    assert all(session.last_audit_at is not None for session in sessions)
    await ctx.close()


async def test_reconciliations_beyond_their_bound_wait_and_none_is_skipped(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    """``ACCOUNT_MAX_RECONCILIATIONS``: after a lease loss every account reconciles at once, each
    holding its pages; past the bound a reconciliation waits (late, never skipped), and an audit
    does not wait behind them."""
    ctx = ProducerContext.from_settings(
        replace(settings, max_reconciliations=2), redis=redis_client, overrides={}, env={}
    )
    inside: dict[int, Source] = {}
    most = 0
    done: list[int] = []
    release = asyncio.Event()
    entered = asyncio.Condition()

    async def read(session: AccountSession, kinds: tuple[str, ...], source: Source) -> None:
        nonlocal most
        await read_places.take()  # its first request goes out
        async with entered:
            inside[session.ref.ex_id] = source
            most = max(most, len(inside))
            entered.notify_all()
        await release.wait()
        del inside[session.ref.ex_id]
        done.append(session.ref.ex_id)

    ctx.reconciler.run = read  # type: ignore[method-assign]
    poller = RestAccountPoller(context=ctx, poll_interval=60.0)

    def session(ex_id: int) -> AccountSession:
        ref = AccountRef(ex_id=ex_id, uid=1, venue="kraken")
        return AccountSession(ref, None, Normaliser(ref, set(), str), asyncio.Lock())

    async with asyncio.timeout(10), asyncio.TaskGroup() as group:
        for ex_id in range(1, 6):
            group.create_task(poller._read(session(ex_id), True))
        async with entered:
            await entered.wait_for(lambda: len(inside) == 2)
        for _ in range(20):  # the other three had every chance to start: they are waiting
            await asyncio.sleep(0)
        assert set(inside.values()) == {Source.RECONCILE} and not done
        group.create_task(poller._read(session(6), False))  # an audit: its own places
        async with entered:
            await entered.wait_for(lambda: 6 in inside)
        assert inside[6] is Source.REST
        release.set()
    assert most == 3
    assert sorted(done) == [1, 2, 3, 4, 5, 6]
    await ctx.close()


async def test_an_audit_the_venue_holds_back_holds_no_place(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    """Real ccxt against the simulator, one place: an audit whose request waits in ccxt's rate
    limiter (held there by the test) leaves the place to another account's audit, which runs to
    its end; once let go, the first audit ends too."""
    config = ScenarioConfig(venues=("kraken",), accounts_per_venue=2, seed=7)
    async with Simulator(config) as sim:
        bindings = bind_accounts(sim)
        ctx = make_context(sim, replace(settings, max_audits=1), redis_client, bindings)
        poller = RestAccountPoller(context=ctx, poll_interval=60.0)
        held, waiting = (
            await ctx.registry.acquire(bindings[0].ref),
            await ctx.registry.acquire(bindings[1].ref),
        )
        limiter = held.client.throttler
        in_limiter, go = asyncio.Event(), asyncio.Event()

        async def holding_back(cost: float | None = None) -> None:
            in_limiter.set()
            await go.wait()
            await limiter(cost)

        try:
            async with asyncio.timeout(60), asyncio.TaskGroup() as group:
                held.client.throttler = holding_back
                first = group.create_task(poller._read(held, False))
                await in_limiter.wait()
                await poller._read(waiting, False)
                assert waiting.last_audit_at is not None and not first.done()
                held.client.throttler = limiter
                go.set()
            assert held.last_audit_at is not None
        finally:
            for b in bindings:
                await ctx.registry.release(b.ref.ex_id)
            await ctx.close()
