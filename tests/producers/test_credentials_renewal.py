"""A secret the venue refuses, corrected in the secrets file while the producer runs: the account
collects again without a restart. Real ccxt against the simulator's signature checks."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from producer_harness import SUBSCRIBED, bind_accounts, collecting, eventually, make_context, read_bus

from fullon_account_service.contract import BalanceSnapshot
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

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
