"""``fullon-account accounts``: add, list, deactivate, remove, test; never a secret in the output."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from pathlib import Path
from typing import Any

from ops_helpers import invoke, invoke_async, run_cli
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from fullon_account_service import account_admin as ops
from fullon_account_service.account_list import list_accounts
from fullon_account_service.producers.clients import strip_credentials
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator
from fullon_account_service.storage.db.schema_names import EXCHANGES_CHANNEL

SECRET = "s3cr3t-value-never-printed"


def added_ex_id(output: str) -> int:
    match = re.search(r"added ex_id (\d+)", output)
    assert match, output
    return int(match.group(1))


def listed(env: dict[str, str]) -> dict[int, dict[str, Any]]:
    result = invoke(["accounts", "list", "--json"], env)
    assert result.exit_code == 0, result.output
    return {row["ex_id"]: row for row in json.loads(result.stdout)}


def add(exchange: str, name: str, *flags: str) -> list[str]:
    return ["accounts", "add", "--exchange", exchange, "--name", name, "--user", "ops@example.com", *flags]


def test_accounts_round_trip(cli_env: dict[str, str]) -> None:
    first = invoke(add("kraken", "main", "--force-rest"), cli_env)
    assert first.exit_code == 0, first.output
    kraken = added_ex_id(first.stdout)
    assert f"EX_ID_{kraken}_KEY" in first.stdout and f"EX_ID_{kraken}_SECRET" in first.stdout
    second = invoke(add("hyperliquid", "hl", "--test"), cli_env)
    assert second.exit_code == 0, second.output
    wallet = added_ex_id(second.stdout)
    assert "wallet address" in second.stdout

    again = invoke(add("kraken", "main"), cli_env)
    assert again.exit_code == 1 and f"ex_id {kraken}" in again.output
    unknown = invoke(add("nope", "x"), cli_env)
    assert unknown.exit_code == 1 and "not a ccxt.pro exchange" in unknown.output

    with_keys = {**cli_env, f"EX_ID_{kraken}_KEY": "key-" + SECRET, f"EX_ID_{kraken}_SECRET": SECRET}
    rows = listed(with_keys)
    assert rows[kraken] | {"ex_id": 0} == {
        "ex_id": 0,
        "user": "ops@example.com",
        "exchange": "kraken",
        "name": "main",
        "active": True,
        "test": False,
        "force_rest": True,
        "credentials": "set",
        "credentials_reason": "",
        "collection": "rest (forced)",
    }
    assert rows[wallet]["credentials"] == "missing" and rows[wallet]["test"] is True
    table = invoke(["accounts", "list"], {**with_keys, "COLUMNS": "200"})
    assert table.exit_code == 0 and "ops@example.com" in table.stdout
    assert SECRET not in table.output

    assert invoke(["accounts", "remove", "--ex-id", str(wallet), "--deactivate"], cli_env).exit_code == 0
    assert listed(cli_env)[wallet]["active"] is False
    assert invoke(["accounts", "remove", "--ex-id", str(kraken)], cli_env).exit_code == 0
    assert set(listed(cli_env)) == {wallet}
    missing = invoke(["accounts", "remove", "--ex-id", str(kraken)], cli_env)
    assert missing.exit_code == 1 and f"no account with ex_id {kraken}" in missing.output


async def test_changes_notify_the_producers(
    session_factory: async_sessionmaker[AsyncSession], db_engine: AsyncEngine, database_url: str
) -> None:
    """On PostgreSQL every change wakes discovery through NOTIFY; elsewhere changes just land."""
    woken: asyncio.Queue[str] = asyncio.Queue()
    async with db_engine.connect() as conn:
        postgres = db_engine.dialect.name == "postgresql"
        if postgres:
            raw: Any = (await conn.get_raw_connection()).driver_connection
            await raw.add_listener(EXCHANGES_CHANNEL, lambda *args: woken.put_nowait(args[2]))
        row = await ops.add_account(database_url, exchange="bybit", name="n", user="n@example.com")
        assert await ops.remove_account(database_url, row.ex_id, deactivate=True)
        assert await ops.remove_account(database_url, row.ex_id, deactivate=False)
        assert not await ops.remove_account(database_url, row.ex_id, deactivate=False)
        if postgres:
            async with asyncio.timeout(60):
                channels = [await woken.get() for _ in range(3)]
            assert channels == [EXCHANGES_CHANNEL] * 3
            await asyncio.sleep(0.1)
            assert woken.empty()
    assert await list_accounts(database_url, env={}) == []


async def test_accounts_test_against_the_simulator(
    session_factory: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    env = {
        "ACCOUNT_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "ACCOUNT_SECRETS_FILE": "",
    }
    row = await ops.add_account(database_url, exchange="kraken", name="sim", user="sim@example.com")
    async with Simulator(ScenarioConfig(venues=("kraken",), accounts_per_venue=1)) as sim:
        account = sim.world.accounts[0]
        overrides = tmp_path / "overrides.json"
        overrides.write_text(json.dumps({"kraken": strip_credentials(sim.client_config(account))}))
        env["ACCOUNT_EXCHANGE_OVERRIDES"] = str(overrides)
        good = {**env, f"EX_ID_{row.ex_id}_KEY": account.api_key, f"EX_ID_{row.ex_id}_SECRET": account.secret}
        ok = await invoke_async(["accounts", "test", "--ex-id", str(row.ex_id)], good)
        assert ok.exit_code == 0, ok.output
        assert ok.stdout.startswith("ok: kraken answered fetch_balance")
        assert account.secret not in ok.output

        wrong_secret = base64.b64encode(SECRET.encode() * 4).decode()
        bad = {**good, f"EX_ID_{row.ex_id}_SECRET": wrong_secret}
        failed = await invoke_async(["accounts", "test", "--ex-id", str(row.ex_id)], bad)
        assert failed.exit_code == 1
        assert "failed: CredentialsError" in failed.output
        assert wrong_secret not in failed.output and account.api_key not in failed.output

        missing = await invoke_async(["accounts", "test", "--ex-id", str(row.ex_id)], env)
        assert missing.exit_code == 1 and f"EX_ID_{row.ex_id}_KEY" in missing.output
        nobody = await invoke_async(["accounts", "test", "--ex-id", "999"], good)
        assert nobody.exit_code == 1 and "no account with ex_id 999" in nobody.output


async def test_list_says_why_credentials_are_invalid(cli_env: dict[str, str], tmp_path: Path) -> None:
    """In a separate process, as an operator runs it: each invalid state comes with its reason."""
    half = added_ex_id((await invoke_async(add("kraken", "half"), cli_env)).stdout)
    filed = added_ex_id((await invoke_async(add("bybit", "filed"), cli_env)).stdout)
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({str(filed): {"key": "k-" + SECRET, "secret": SECRET}}))
    secrets.chmod(0o644)
    env = {
        **cli_env,
        f"EX_ID_{half}_KEY": "key-" + SECRET,
        "ACCOUNT_SECRETS_FILE": str(secrets),
        "COLUMNS": "250",
    }
    code, out, err = await run_cli(["accounts", "list", "--json"], env)
    assert code == 0, err
    rows = {row["ex_id"]: row for row in json.loads(out)}
    assert rows[half]["credentials"] == "invalid"
    assert f"EX_ID_{half}_SECRET must both be set" in rows[half]["credentials_reason"]
    assert rows[filed]["credentials"] == "invalid"
    reason = rows[filed]["credentials_reason"]
    assert "mode 0644" in reason and "chmod 600" in reason
    code, out, err = await run_cli(["accounts", "list"], env)
    assert code == 0, err
    assert "must both be set" in out and "0600" in out
    assert SECRET not in out + err
