"""An account stopped after its lease went unconfirmed and started again, as the lease pool does:
its old session (ccxt client, normaliser, id memories) is gone once the account stops, and the
account never has two sessions at once (two loops on two sessions would split its id memories).

What kept them (bench/RESULTS.md, "h6, stop 23"): the first market load of a venue froze every
object alive (``gc_freeze``), the account clients made before it included; a client and its
session hold each other, and the collector never visits frozen objects, so a session stopped
after that freeze was never freed. The test starts unfrozen so that load happens in it."""

from __future__ import annotations

import gc
import weakref

import redis.asyncio as aioredis
from producer_harness import bind_accounts, eventually, make_context

from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.account_set import AccountSet
from fullon_account_service.producers.collected import CollectedAccounts
from fullon_account_service.producers.session import AccountSession, SessionRegistry
from fullon_account_service.producers.upkeep import Upkeep
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator


def _track(registry: SessionRegistry) -> tuple[list[weakref.ref[AccountSession]], list[int]]:
    """Every session the registry creates, weakly, and the accounts that got one while another
    of theirs was still alive."""
    made: list[weakref.ref[AccountSession]] = []
    doubled: list[int] = []
    create = registry._create

    async def tracked(ref: AccountRef) -> AccountSession:
        gc.collect()
        if any(s is not None and s.ref.ex_id == ref.ex_id for s in (w() for w in made)):
            doubled.append(ref.ex_id)
        session = await create(ref)
        made.append(weakref.ref(session))
        return session

    registry._create = tracked  # type: ignore[method-assign]
    return made, doubled


async def test_a_session_does_not_outlive_its_account_after_a_lease_loss(
    settings: Settings, redis_client: aioredis.Redis, unfrozen: None
) -> None:
    async with Simulator(ScenarioConfig(venues=("kraken", "bybit"), accounts_per_venue=1, seed=23)) as sim:
        bindings = bind_accounts(sim)
        ctx = make_context(sim, settings, redis_client, bindings)
        made, doubled = _track(ctx.registry)
        fences = ctx.cursors.fences
        upkeep = Upkeep(ctx, interval_s=60.0, heap_trim_s=0.0)
        accounts = AccountSet(ctx, upkeep.heartbeat, CollectedAccounts())
        wanted = {b.ref.ex_id: b.ref for b in bindings}
        try:
            for ex_id in wanted:
                fences.set(ex_id, 1)
            await accounts.apply(wanted)
            await eventually(lambda: _audited(ctx.registry, wanted), timeout_s=60)
            old = {ex_id: _weak(ctx.registry, ex_id) for ex_id in wanted}

            for ex_id in wanted:
                fences.expire(ex_id)
            await eventually(lambda: _not_signing(ctx.status, wanted), timeout_s=60)
            await accounts.apply({})
            gc.collect()
            for ex_id, (session, client) in old.items():
                assert session() is None, f"account {ex_id}: its session outlived its stop"
                assert client() is None, f"account {ex_id}: its ccxt client outlived its stop"

            for ex_id in wanted:
                fences.set(ex_id, 2)
            await accounts.apply(wanted)
            await eventually(lambda: _audited(ctx.registry, wanted), timeout_s=60)
            assert len(made) == 2 * len(wanted)
            assert doubled == [], "a second session created while the first was still held"
        finally:
            await accounts.close()
            await ctx.close()


def _weak(registry: SessionRegistry, ex_id: int) -> tuple[weakref.ref[AccountSession], weakref.ref[object]]:
    session = registry.get(ex_id)
    assert session is not None
    return weakref.ref(session), weakref.ref(session.client)


def _audited(registry: SessionRegistry, wanted: dict[int, object]) -> None:
    for ex_id in wanted:
        session = registry.get(ex_id)
        assert session is not None and session.last_audit_at is not None, f"account {ex_id} not audited yet"


def _not_signing(status: dict[int, tuple[str, str]], wanted: dict[int, object]) -> None:
    for ex_id in wanted:
        assert "not confirmed" in status.get(ex_id, ("", ""))[1], f"account {ex_id}: {status.get(ex_id)}"
