"""The producer says what is wrong on its own output at once: an unknown ``--ex-id`` (exit 2), a
secrets file others can read (exit 2), a database that cannot be given the schema (exit 2), missing
credentials, an unreachable Redis or database."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

from ops_helpers import PROCESS_DEADLINE_S
from producer_proc import add_accounts, start_producer

from private_servers import free_port


async def test_unknown_ex_id_exits_2_and_names_it(cli_env: dict[str, str], redis_url: str) -> None:
    [ex_id] = await add_accounts(cli_env, ["kraken"])
    unknown = ex_id + 998
    producer = await start_producer(["--ex-id", str(unknown)], {**cli_env, "REDIS_URL": redis_url})
    try:
        assert await producer.wait(PROCESS_DEADLINE_S) == 2, producer.output
    finally:
        await producer.kill()
    assert f"--ex-id {unknown}: no active account" in producer.output
    assert "Traceback" not in producer.output


async def test_unknown_ex_id_on_a_new_embedded_database_exits_2(
    cli_env: dict[str, str], redis_url: str, tmp_path: Path
) -> None:
    """An empty SQLite file gets its schema, as with the ``accounts`` commands, and the check goes on."""
    env = {**cli_env, "REDIS_URL": redis_url, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'new.db'}"}
    producer = await start_producer(["--ex-id", "999"], env)
    try:
        assert await producer.wait(PROCESS_DEADLINE_S) == 2, producer.output
    finally:
        await producer.kill()
    assert "--ex-id 999: no active account" in producer.output
    assert "Traceback" not in producer.output


async def test_database_refusing_the_schema_exits_2_in_one_line(
    cli_env: dict[str, str], redis_url: str, tmp_path: Path
) -> None:
    """A database without the accounts' tables that cannot be given them (read-only here) is not an
    outage to wait for: the producer says so in one line and exits."""
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    env = {
        **cli_env,
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///file:{empty}?mode=ro&uri=true",
    }
    producer = await start_producer([], env)
    try:
        assert await producer.wait(PROCESS_DEADLINE_S) == 2, producer.output
    finally:
        await producer.kill()
    [line] = [s for s in producer.output.splitlines() if "configuration error" in s]
    assert "refuses to list the accounts" in line and "readonly database" in line, line
    assert "fullon-account db upgrade" in line
    assert "SELECT" not in producer.output and "Traceback" not in producer.output


async def test_secrets_file_readable_by_others_exits_2(
    cli_env: dict[str, str], redis_url: str, tmp_path: Path
) -> None:
    await add_accounts(cli_env, ["kraken"])
    secrets = tmp_path / "secrets.json"
    secrets.write_text('{"1": {"key": "k", "secret": "s"}}')
    secrets.chmod(0o644)
    env = {**cli_env, "REDIS_URL": redis_url, "ACCOUNT_SECRETS_FILE": str(secrets)}
    producer = await start_producer([], env)
    try:
        assert await producer.wait(PROCESS_DEADLINE_S) == 2, producer.output
    finally:
        await producer.kill()
    assert f"ACCOUNT_SECRETS_FILE={secrets} has mode 0644" in producer.output
    assert f"chmod 600 {secrets}" in producer.output
    assert "Traceback" not in producer.output


async def test_missing_credentials_are_reported_at_once(cli_env: dict[str, str], redis_url: str) -> None:
    [ex_id] = await add_accounts(cli_env, ["kraken"])
    env = {**cli_env, "REDIS_URL": redis_url, "ACCOUNT_REDISCOVER_INTERVAL": "600"}
    producer = await start_producer([], env)
    try:
        line = await producer.wait_for_line(lambda s: "account in error" in s, timeout_s=PROCESS_DEADLINE_S)
        assert f"EX_ID_{ex_id}_KEY" in line
        producer.proc.send_signal(signal.SIGTERM)
        assert await producer.wait(PROCESS_DEADLINE_S) == 0, producer.output
    finally:
        await producer.kill()


async def test_unreachable_redis_is_reported_at_once(cli_env: dict[str, str]) -> None:
    await add_accounts(cli_env, ["kraken"])
    env = {**cli_env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    producer = await start_producer([], env)
    try:
        line = await producer.wait_for_line(lambda s: "redis unreachable" in s, timeout_s=PROCESS_DEADLINE_S)
        assert "Connection" in line or "connect" in line
        producer.proc.send_signal(signal.SIGTERM)
        await producer.wait(PROCESS_DEADLINE_S)
    finally:
        await producer.kill()
    assert "Traceback" not in producer.output


async def test_unreachable_database_is_reported_at_once(cli_env: dict[str, str], redis_url: str) -> None:
    env = {
        **cli_env,
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere",
    }
    producer = await start_producer([], env)
    try:
        line = await producer.wait_for_line(
            lambda s: "database" in s and "fail" in s, timeout_s=PROCESS_DEADLINE_S
        )
        assert "database unreachable; cannot list the accounts yet" in line
        assert "\\n" not in line
        producer.proc.send_signal(signal.SIGTERM)
        await producer.wait(PROCESS_DEADLINE_S)
    finally:
        await producer.kill()
    assert "Traceback" not in producer.output
