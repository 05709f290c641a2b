"""Ledger entries end to end: real ccxt against the simulator, the producer's collector and poller,
the bus compared with the simulator's ground truth.

Every ledger entry of the truth must be on the bus exactly once (one stream entry per ledger id
and currency), with its reason, signed amount, fee and, for funding, its symbol; also while the
simulator drops the WebSockets every second. A venue whose ccxt ``has`` lists no ledger call
reports no ``ledger`` capability and is collected as before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import ccxt
import ccxt.pro
import pytest
import redis.asyncio as aioredis
from history_harness import DAY_MS, Clock, producer, step, until, wall_ms
from producer_harness import (
    FAST,
    FAST_RETRY,
    Binding,
    bind_accounts,
    close,
    collecting,
    credentials_env,
    eventually,
    make_context,
    overrides,
    read_bus,
    trade_until,
)

from fullon_account_service.contract import Envelope, LedgerEntry, Source, TradeFill
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.capabilities import CapabilityDetector
from fullon_account_service.producers.clients import ClientFactory
from fullon_account_service.producers.context import ProducerContext
from fullon_account_service.producers.rest_poller import RestAccountPoller
from fullon_account_service.producers.venues import adapter_for
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.model import Faults
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator
from fullon_account_service.simulator.truth import account_truth

LEDGER_VENUES = ("bybit", "kraken", "hyperliquid")
"""Venues whose simulator serves the ledger endpoints."""


def _config(venue: str, seed: int) -> ScenarioConfig:
    return ScenarioConfig(
        venues=(venue,), accounts_per_venue=2, seed=seed, rate_per_s=60, funding_every_s=0.5
    )


async def check_ledger(
    redis: aioredis.Redis, prefix: str, bindings: Sequence[Binding], *, once: bool = True
) -> None:
    """Every entry of the truth on the bus with its fields; exactly once with ``once`` (one
    producer process: a restarted one sends its overlap again, under the same event ids)."""
    bus = [e for e in await read_bus(redis, prefix) if isinstance(e.payload, LedgerEntry)]
    for b in bindings:
        truth = account_truth(b.account)["ledger"]
        mine: list[LedgerEntry] = [e.payload for e in bus if e.ex_id == b.ref.ex_id]  # type: ignore[misc]
        seen = Counter((p.ex_ledger_id, p.currency) for p in mine)
        want = {(t["id"], t["currency"]) for t in truth}
        assert set(seen) == want, f"ex_id {b.ref.ex_id}: missing {want - set(seen)}, extra {set(seen) - want}"
        assert not once or all(n == 1 for n in seen.values()), [k for k, n in seen.items() if n > 1]
        got = {(p.ex_ledger_id, p.currency): p for p in mine}
        for t in truth:
            p = got[(t["id"], t["currency"])]
            assert p.reason.value == t["reason"] and p.raw_type == t["raw_type"], (p, t)
            assert close(p.amount, t["amount"]) and close(p.fee or 0.0, t["fee"]), (p, t)
            assert p.symbol == t["symbol"], (p, t)
            assert p.time_ms == t["ts_ms"], (p, t)


def _varied(venue: str, bindings: Sequence[Binding]) -> None:
    """The truth has entries of three reasons at least, funding among them where the venue has it."""
    reasons = Counter(t["reason"] for b in bindings for t in account_truth(b.account)["ledger"])
    assert len(reasons) >= 3, reasons
    assert reasons["funding"] > 0 or venue == "kraken", reasons  # Kraken spot has no funding


async def _pushed(redis: aioredis.Redis, prefix: str) -> list[Envelope]:
    return [
        e
        for e in await read_bus(redis, prefix)
        if isinstance(e.payload, LedgerEntry) and e.source is Source.WS
    ]


async def _run(
    sim: Simulator, settings: Settings, redis: aioredis.Redis, venue: str, *, streamed: bool = False
) -> list[Binding]:
    """Trade until the truth is varied and, with ``streamed``, until the venue's stream (not only
    REST, which a loaded producer may poll first) has published a ledger row."""
    bindings = bind_accounts(sim)
    ctx = make_context(sim, settings, redis, bindings)

    async def enough() -> None:
        _varied(venue, bindings)
        if streamed:
            assert await _pushed(redis, settings.stream_prefix), "no ledger row from the stream yet"

    async with collecting(ctx, bindings):
        await trade_until(sim, bindings, fills_per_venue=10, also=enough)
        await eventually(lambda: check_ledger(redis, settings.stream_prefix, bindings), timeout_s=60)
    return bindings


@pytest.mark.parametrize("venue", LEDGER_VENUES)
async def test_every_ledger_entry_once_with_funding_on_its_symbol(
    venue: str, settings: Settings, redis_client: aioredis.Redis
) -> None:
    async with Simulator(_config(venue, seed=21)) as sim:
        streamed = adapter_for(venue).quirks.ledger_stream
        bindings = await _run(sim, settings, redis_client, venue, streamed=streamed)
        _varied(venue, bindings)
        if streamed:
            assert await _pushed(redis_client, settings.stream_prefix), "some must come from its stream"


@pytest.mark.parametrize("venue", LEDGER_VENUES)
async def test_ledger_exactly_once_across_websocket_drops(
    venue: str, settings: Settings, redis_client: aioredis.Redis
) -> None:
    async with Simulator(_config(venue, seed=22), faults=Faults(ws_drop_every_s=1.0)) as sim:
        await _run(sim, settings, redis_client, venue)
        assert sim.world.fault_counts.totals().get("ws_drop", 0) > 0, sim.world.fault_counts.totals()


class _NoLedger:
    """ccxt.pro with a Kraken whose ``has`` lists no ledger call."""

    class kraken(ccxt.pro.kraken):
        def describe(self) -> Any:
            described = super().describe()
            described["has"] = {**described["has"], "fetchLedger": False}
            return described


class _LedgerRefused:
    """ccxt.pro with a Kraken whose key lacks the ledger permission (``EGeneral:Permission
    denied`` is ccxt's ``PermissionDenied``)."""

    class kraken(ccxt.pro.kraken):
        calls = 0

        async def fetch_ledger(self, *args: Any, **kwargs: Any) -> Any:
            _LedgerRefused.kraken.calls += 1
            raise ccxt.PermissionDenied('kraken {"error":["EGeneral:Permission denied"]}')


async def _poll_kraken(
    module: Any, settings: Settings, redis: aioredis.Redis, seed: int
) -> tuple[dict[str, bool], list[Any]]:
    """Poll one simulated Kraken account whose ccxt is ``module``: its capabilities and the bus
    once the account was polled a few times, each cycle reporting the account collecting."""
    async with Simulator(ScenarioConfig(venues=("kraken",), accounts_per_venue=1, seed=seed)) as sim:
        bindings = bind_accounts(sim)
        ctx = ProducerContext.from_settings(
            settings,
            redis=redis,
            overrides=overrides(sim),
            env=credentials_env(bindings),
            timing=FAST,
            retry=FAST_RETRY,
            factory=ClientFactory(overrides(sim), module=module),
        )
        ctx.detector = CapabilityDetector(module=module)
        caps = await ctx.detector.get_capabilities(bindings[0].ref)
        poller = RestAccountPoller(context=ctx)
        try:
            await poller.start_exchange(bindings[0].ref)
            sim.start_engine()

            def polled() -> None:
                assert poller.cycles.get(1, 0) >= 4
                assert ctx.status[1] == ("running", "collecting"), ctx.status[1]

            await eventually(polled, timeout_s=30)
            await sim.stop_engine()
        finally:
            await poller.stop_polling()
            await ctx.close()
        return caps, await read_bus(redis, settings.stream_prefix)


async def test_a_venue_without_a_ledger_reports_none_and_is_collected_as_before(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    assert "ledger" in CapabilityDetector().capabilities(AccountRef(ex_id=1, uid=1, venue="kraken"))
    caps, bus = await _poll_kraken(_NoLedger, settings, redis_client, seed=23)
    assert "ledger" not in caps and caps["balance"] is True
    assert bus and not [e for e in bus if isinstance(e.payload, LedgerEntry)]


async def test_a_key_without_the_ledger_permission_is_collected_without_it(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    caps, bus = await _poll_kraken(_LedgerRefused, settings, redis_client, seed=24)
    assert caps["ledger"] is True
    assert any(isinstance(e.payload, TradeFill) for e in bus)
    assert _LedgerRefused.kraken.calls == 1  # refused at the first reconciliation, not asked again


async def test_bybit_ledger_outage_longer_than_a_week_loses_no_entry(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    """Ledger entries over 8.5 days while no producer runs: the transaction log answers 7 days per
    request (and 24 hours to a ``startTime`` alone), so the restarted producer walks window by
    window up to now; every entry on the bus (the restart re-sends the overlap, same event ids)."""
    clock = Clock(wall_ms() - 10 * DAY_MS)
    config = ScenarioConfig(venues=("bybit",), accounts_per_venue=1, seed=25, funding_every_s=3600)
    async with Simulator(config, now_ms=clock) as sim:
        (binding,) = bind_accounts(sim)
        step(sim, clock, 40, 1_000)
        async with producer(sim, settings, redis_client, binding, clock) as p:
            await p.cycle(kinds=("ledger",), source=Source.RECONCILE)
        step(sim, clock, 600, int(8.5 * DAY_MS) // 600)
        late = [e for e in binding.account.ledger if e.ts_ms > clock.ms - DAY_MS]
        assert late and any(e.reason != "funding" for e in late), (
            "the outage must hold entries in its last day"
        )
        async with producer(sim, settings, redis_client, binding, clock) as p:

            async def cycle() -> None:
                # Time goes on between two reads, as it does for a venue: the last entries of the
                # outage stand a few milliseconds after the last step, past a read that ends now.
                clock.advance(1_000)
                await p.cycle(kinds=("ledger",), source=Source.RECONCILE)

            await until(
                lambda: check_ledger(redis_client, settings.stream_prefix, [binding], once=False),
                cycle,
                rounds=6,
            )
