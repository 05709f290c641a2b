"""The secrets file corrected while the producer runs: a refused secret replaced is used without a
restart, a rotated key restarts the account under it (``--shard`` too). Real ccxt against the
simulator's signature checks."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from producer_harness import SUBSCRIBED, bind_accounts, collecting, eventually, make_context, read_bus
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fullon_account_service.contract import BalanceSnapshot
from fullon_account_service.producers.daemon import AccountDaemon
from fullon_account_service.producers.discovery import Shard
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator
from fullon_account_service.storage import DatabaseContext

Factory = async_sessionmaker[AsyncSession]
WRONG_SECRET = "A" * 86 + "=="
"""Well-formed for both venues (Kraken's secrets are base64), signed with, refused."""


@pytest.mark.parametrize("venue", ["kraken", "bybit"])
async def test_a_refused_secret_corrected_in_the_secrets_file_is_used(
    venue: str, settings: Settings, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    secrets = tmp_path / "secrets.json"

    def write(secret: str) -> None:
        secrets.write_text(
            json.dumps({str(binding.ref.ex_id): {"key": binding.account.api_key, "secret": secret}})
        )
        secrets.chmod(0o600)

    settings = dataclasses.replace(settings, secrets_file=secrets)
    async with Simulator(ScenarioConfig(venues=(venue,), accounts_per_venue=1, seed=12)) as sim:
        [binding] = bind_accounts(sim)
        write(WRONG_SECRET)
        ctx = make_context(sim, settings, redis_client, [binding], env={})
        async with collecting(ctx, [binding]):

            def refused() -> None:
                status, reason = ctx.status.get(binding.ref.ex_id, ("", ""))
                assert status == "error" and "rejected" in reason, (status, reason)

            await eventually(refused, timeout_s=30)
            assert not [
                e
                for e in await read_bus(redis_client, settings.stream_prefix)
                if isinstance(e.payload, BalanceSnapshot)
            ]

            write(binding.account.secret)

            async def collecting_again() -> None:
                balances = [
                    e
                    for e in await read_bus(redis_client, settings.stream_prefix)
                    if isinstance(e.payload, BalanceSnapshot)
                ]
                assert balances and ctx.status[binding.ref.ex_id][0] != "error"

            await eventually(collecting_again, timeout_s=30)
            await sim.world.subscriptions.wait(binding.account, SUBSCRIBED[venue], timeout_s=30)


@pytest.mark.parametrize("shard", [None, Shard(0, 1)], ids=["leases", "shard"])
async def test_a_key_rotated_in_the_secrets_file_restarts_the_account(
    shard: Shard | None,
    settings: Settings,
    redis_client: aioredis.Redis,
    session_factory: Factory,
    tmp_path: Path,
) -> None:
    """Under leases the account moves to its new key's lease; with ``--shard`` rediscovery sees the
    key changed. Either way the account starts again, and its new client signs with the new key
    (refused here: a key the venue does not know)."""
    secrets = tmp_path / "secrets.json"
    settings = dataclasses.replace(settings, secrets_file=secrets, rediscover_interval_s=0.5)
    async with Simulator(ScenarioConfig(venues=("bybit",), accounts_per_venue=1, seed=13)) as sim:
        [account] = sim.world.accounts
        async with DatabaseContext(session_factory) as db:
            user = await db.users.add("trader@example.com")
            ex_id = (await db.exchanges.add(user.uid, "bybit", "perps")).ex_id

        def write(key: str) -> None:
            secrets.write_text(json.dumps({str(ex_id): {"key": key, "secret": account.secret}}))
            secrets.chmod(0o600)

        write(account.api_key)
        ctx = make_context(sim, settings, redis_client, [], env={})
        daemon = AccountDaemon(
            settings=settings, context=ctx, session_factory=session_factory, shard=Shard(0, 1)
        )
        runner = asyncio.create_task(daemon.start())
        try:

            def status_is(wanted: str, reason: str) -> None:
                status, said = ctx.status.get(ex_id, ("", ""))
                assert status == wanted and reason in said, (status, said)

            await eventually(lambda: status_is("running", "collecting"), timeout_s=30)
            first = ctx.registry.get(ex_id)
            write("rotated-key-the-venue-does-not-know")
            await eventually(lambda: status_is("error", "rejected"), timeout_s=30)
            assert ctx.registry.get(ex_id) is not first
        finally:
            await daemon.stop()
            async with asyncio.timeout(60):
                await runner
