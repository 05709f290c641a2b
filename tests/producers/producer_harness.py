"""Shared helpers for producer tests: simulator accounts as ex_ids, a context, the bus as a list."""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from fullon_account_service.bus.streams import ENTRY_FIELD, stream_key
from fullon_account_service.contract import (
    KINDS,
    BalanceSnapshot,
    Envelope,
    OrderUpdate,
    PositionSnapshot,
    Source,
    TradeFill,
    decode,
)
from fullon_account_service.metrics.sensor import NULL_SENSOR, Sensor
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.clients import strip_credentials
from fullon_account_service.producers.context import ProducerContext, Timing
from fullon_account_service.producers.live_collector import LiveAccountCollector
from fullon_account_service.producers.reconcile import Reconciler
from fullon_account_service.producers.rest_poller import RestAccountPoller
from fullon_account_service.producers.session import AccountSession
from fullon_account_service.retry import RetryPolicies, RetryPolicy
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.model import Faults, SimAccount
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

FAST = Timing(
    poll_interval_s=0.4,
    fast_poll_interval_s=0.2,
    audit_interval_s=1.0,
)
FAST_RETRY = RetryPolicies(
    venue=RetryPolicy.exponential(0.1, 1.0),
    call=RetryPolicy.exponential(0.1, 1.0, retries=3),
    publish=RetryPolicy.exponential(0.05, 1.0),
    outage=RetryPolicy.exponential(0.05, 1.0),
)
"""The settings' policies, shrunk like ``FAST`` (no zero delays: loops waiting out a simulated
outage must not spin)."""


@dataclass(frozen=True, slots=True)
class Binding:
    ref: AccountRef
    account: SimAccount


def bind_accounts(sim: Simulator, first_ex_id: int = 1, force_rest: Sequence[int] = ()) -> list[Binding]:
    out = []
    for n, account in enumerate(a for a in sim.world.accounts if a.venue in sim.venues):
        ex_id = first_ex_id + n
        ref = AccountRef(
            ex_id=ex_id, uid=1, venue=account.venue, name=f"sim{n}", force_rest=ex_id in force_rest
        )
        out.append(Binding(ref, account))
    return out


def credentials_env(bindings: Sequence[Binding]) -> dict[str, str]:
    env: dict[str, str] = {}
    for b in bindings:
        env[f"EX_ID_{b.ref.ex_id}_KEY"] = b.account.api_key
        env[f"EX_ID_{b.ref.ex_id}_SECRET"] = b.account.secret
    return env


def overrides(sim: Simulator) -> dict[str, dict[str, Any]]:
    """Simulator URLs per venue; the rate limiter stays on, paced for a loopback venue."""
    return {
        venue: {**strip_credentials(sim.client_config(sim.world.accounts_of(venue)[0])), "rateLimit": 20}
        for venue in sim.venues
    }


def make_context(
    sim: Simulator,
    settings: Settings,
    redis: aioredis.Redis,
    bindings: Sequence[Binding],
    *,
    env: dict[str, str] | None = None,
    timing: Timing = FAST,
    retry: RetryPolicies = FAST_RETRY,
    sensor: Sensor = NULL_SENSOR,
) -> ProducerContext:
    return ProducerContext.from_settings(
        settings,
        redis=redis,
        overrides=overrides(sim),
        env=credentials_env(bindings) if env is None else env,
        timing=timing,
        retry=retry,
        sensor=sensor,
    )


@asynccontextmanager
async def collecting(
    ctx: ProducerContext, bindings: Sequence[Binding]
) -> AsyncIterator[tuple[LiveAccountCollector, RestAccountPoller]]:
    """A collector and a poller running every account of ``bindings``, as the daemon starts them;
    both stopped and the context closed when the block ends."""
    collector, poller = LiveAccountCollector(context=ctx), RestAccountPoller(context=ctx)
    try:
        for b in bindings:
            await collector.start_exchange(b.ref)
            await poller.start_exchange(b.ref)
        yield collector, poller
    finally:
        await collector.stop_collection()
        await poller.stop_polling()
        await ctx.close()


SUBSCRIBED = {"kraken": {"executions", "balances"}, "bybit": {"execution", "order"}}
"""The private channels ``kraken_and_bybit``'s accounts subscribe to."""


@asynccontextmanager
async def kraken_and_bybit(
    seed: int, faults: Faults | None = None
) -> AsyncIterator[tuple[Simulator, list[Binding]]]:
    """One account on Kraken and one on Bybit, bound to ex_ids; one account per venue, so a
    venue tells which account a call or a run belongs to."""
    config = ScenarioConfig(venues=("kraken", "bybit"), accounts_per_venue=1, seed=seed)
    async with Simulator(config, faults=faults) as sim:
        yield sim, bind_accounts(sim)


@asynccontextmanager
async def collecting_reconciled(
    sim: Simulator, ctx: ProducerContext, bindings: Sequence[Binding]
) -> AsyncIterator[tuple[LiveAccountCollector, RestAccountPoller]]:
    """``collecting``, once every account's streams are subscribed (``SUBSCRIBED``) and its first
    reconciliation is over (a cycle that failed is tried again)."""
    async with collecting(ctx, bindings) as started:
        for b in bindings:
            await sim.world.subscriptions.wait(b.account, SUBSCRIBED[b.ref.venue], timeout_s=60)
        await eventually(lambda: _reconciled(ctx, bindings), timeout_s=60)
        yield started


def _reconciled(ctx: ProducerContext, bindings: Sequence[Binding]) -> None:
    sessions = [ctx.registry.get(b.ref.ex_id) for b in bindings]
    assert all(s is not None and s.last_audit_at is not None for s in sessions)


def on_reconcile(
    reconciler: Reconciler, seen: Callable[[AccountSession, tuple[str, ...], Source], None]
) -> None:
    """``seen`` told of every reconciler run as it starts; the run itself unchanged."""
    run = reconciler.run

    async def observed(session: AccountSession, kinds: Iterable[str], source: Source = Source.REST) -> None:
        wanted = tuple(kinds)
        seen(session, wanted, source)
        await run(session, wanted, source)

    reconciler.run = observed  # type: ignore[method-assign]


async def read_bus(redis: aioredis.Redis, prefix: str) -> list[Envelope]:
    out: list[Envelope] = []
    for kind in KINDS:
        for _, fields in await redis.xrange(stream_key(prefix, kind)):
            out.append(decode(fields[ENTRY_FIELD]))
    return out


async def eventually(check: Callable[[], Any], timeout_s: float, every_s: float = 0.25) -> None:
    """Await ``check()`` until it stops raising AssertionError, at most ``timeout_s``."""
    last: AssertionError | None = None
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                try:
                    result = check()
                    if asyncio.iscoroutine(result):
                        await result
                    return
                except AssertionError as e:
                    if os.environ.get("PRODUCER_TEST_DEBUG"):
                        print("eventually:", str(e).splitlines()[0])  # noqa: T201
                    last = e
                await asyncio.sleep(every_s)
    except TimeoutError:
        raise last or AssertionError("timed out") from None


async def trade_until(
    sim: Simulator,
    bindings: Sequence[Binding],
    *,
    fills_per_venue: int,
    also: Callable[[], Awaitable[None] | None] | None = None,
    timeout_s: float = 90.0,
) -> None:
    """Run the scenario until every venue of ``bindings`` has ``fills_per_venue`` fills and, when
    WebSocket drops are on, has dropped a socket, and ``also`` (raising AssertionError until the
    world has what the test needs) passes: a count, not a time, since a loaded machine may trade
    nothing on some venue in a few seconds."""
    venues = {b.account.venue for b in bindings}
    drops = sim.world.faults.ws_drop_every_s is not None

    async def traded() -> None:
        fills = {v: sum(len(b.account.fills) for b in bindings if b.account.venue == v) for v in venues}
        assert all(n >= fills_per_venue for n in fills.values()), f"fills so far: {fills}"
        if drops:
            dropped = {v: sim.world.fault_counts.count("ws_drop", v) for v in venues}
            assert all(dropped.values()), f"sockets dropped so far: {dropped}"
        if also is not None and (pending := also()) is not None:
            await pending

    sim.start_engine()
    try:
        await eventually(traded, timeout_s=timeout_s, every_s=0.1)
    finally:
        await sim.stop_engine()


def close(a: float | None, b: float | None, tol: float = 1e-6) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)


@dataclass(slots=True)
class BusView:
    """What the bus says about each account, folded the way a sink would."""

    fills: dict[int, dict[str, set[str]]]
    fill_events: dict[int, list[TradeFill]]
    orders: dict[int, dict[str, OrderUpdate]]
    balances: dict[int, dict[str, Any]]
    positions: dict[int, dict[str, Any]]


def fold(envelopes: Sequence[Envelope]) -> BusView:
    view = BusView({}, {}, {}, {}, {})
    for env in envelopes:
        p = env.payload
        if isinstance(p, TradeFill):
            view.fills.setdefault(env.ex_id, {}).setdefault(p.ex_trade_id, set()).add(env.event_id)
            view.fill_events.setdefault(env.ex_id, []).append(p)
        elif isinstance(p, OrderUpdate):
            orders = view.orders.setdefault(env.ex_id, {})
            prev = orders.get(p.ex_order_id)
            if prev is None or _later(prev, p):
                orders[p.ex_order_id] = p
    for env in sorted(
        (e for e in envelopes if isinstance(e.payload, BalanceSnapshot)), key=lambda e: e.received_ms
    ):
        assert isinstance(env.payload, BalanceSnapshot)
        acct = view.balances.setdefault(env.ex_id, {})
        if not env.payload.partial:
            acct.clear()
        for cur, bal in env.payload.balances.items():
            acct[cur] = bal
    for env in sorted(
        (e for e in envelopes if isinstance(e.payload, PositionSnapshot)), key=lambda e: e.received_ms
    ):
        assert isinstance(env.payload, PositionSnapshot)
        pos = view.positions.setdefault(env.ex_id, {})
        if not env.payload.partial:
            pos.clear()
        for p in env.payload.positions:
            if p.volume == 0:
                pos.pop(p.symbol, None)
            else:
                pos[p.symbol] = p
    return view


def _later(prev: OrderUpdate, new: OrderUpdate) -> bool:
    """The state a monotonic upsert keeps: terminal beats open, then more filled wins."""
    if prev.status.is_terminal != new.status.is_terminal:
        return new.status.is_terminal
    return (new.filled or 0.0) >= (prev.filled or 0.0)


class RecordingSensor(Sensor):
    def __init__(self) -> None:
        self.reconnects = 0
        self.rate_limited = 0
        self.published = 0

    def on_reconnect(self, exchange: str) -> None:
        self.reconnects += 1

    def on_rate_limited(self, exchange: str) -> None:
        self.rate_limited += 1

    def on_events_published(self, kind: str, exchange: str, count: int) -> None:
        self.published += count


# What each venue can say about an order's final state: Kraken has no "rejected" (it reports a
# rejected order as canceled with a reason).
_VENUE_STATUS = {("kraken", "rejected"): "canceled"}


async def check_truth(redis: aioredis.Redis, prefix: str, bindings: Sequence[Binding]) -> None:
    view = fold(await read_bus(redis, prefix))
    for b in bindings:
        ex_id, acct = b.ref.ex_id, b.account
        fills = view.fills.get(ex_id, {})
        assert set(fills) == {f.trade_id for f in acct.fills}, f"{acct.venue} ex_id={ex_id} fills differ"
        assert all(len(ids) == 1 for ids in fills.values()), "a fill got two event ids"
        orders = view.orders.get(ex_id, {})
        for order in acct.orders.values():
            got = orders.get(order.order_id)
            assert got is not None, f"{acct.venue} order {order.order_id} ({order.status}) missing"
            expected = _VENUE_STATUS.get((acct.venue, order.status), order.status)
            assert got.status.value == expected, (
                f"{acct.venue} order {order.order_id}: {got.status} != {expected}"
            )
            assert close(got.filled or 0.0, order.filled), (
                f"order {order.order_id} filled {got.filled} {got} {order}"
            )
        balances = view.balances.get(ex_id, {})
        for cur, bal in acct.held().items():
            if bal.total == 0 and cur not in balances:
                continue
            assert cur in balances, f"{acct.venue} balance {cur} missing"
            got_total = balances[cur].total
            assert close(got_total, bal.total, 1e-6), (
                f"{acct.venue} ex_id={ex_id} {cur} {got_total} != {bal.total}"
            )
        positions = view.positions.get(ex_id, {})
        truth_positions = {s: p for s, p in acct.positions.items() if p.contracts != 0}
        assert set(positions) == set(truth_positions), (
            f"{acct.venue} positions {set(positions)} != {set(truth_positions)}"
        )
        for symbol, p in truth_positions.items():
            assert positions[symbol].side.value == p.side
            assert close(positions[symbol].volume, abs(p.contracts))
