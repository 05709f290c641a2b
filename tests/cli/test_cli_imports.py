"""Help and configuration errors never import the heavy machinery (ccxt above all).

How fast that makes them is measured in ``bench/cli_startup.py``; here each invocation runs in a
fresh interpreter that reports which heavy packages ended up imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.core import TyperCommand, TyperGroup

from fullon_account_service.cli.app import COMMANDS, command_words, load_command
from fullon_account_service.cli.simulate import VENUES as SIM_VENUES
from fullon_account_service.cli.sink import GROUPS as SINK_GROUPS
from fullon_account_service.producers.cursor import CursorStore
from fullon_account_service.storage.balance_anchors import BalanceAnchors
from fullon_account_service.verify.stored_through import LEDGER_CURSOR

REPOSITORIES = "fullon_account_service.storage.db.repositories"
HEAVY = (
    "ccxt",
    "matplotlib",
    "sqlalchemy",
    "alembic",
    "aiohttp",
    "fakeredis",
    "pydantic",
    REPOSITORIES,
)
"""Never imported by help or a configuration error; ``run`` reports which of ``watch`` were."""
WRAPPER = """
import json, os, sys
from fullon_account_service.cli.app import main
sys.argv = ["fullon-account", *sys.argv[1:]]
try:
    main()
except SystemExit as e:
    code = e.code
else:
    code = 0
watched = json.loads(os.environ["CLI_IMPORTS_WATCH"])
print(json.dumps({"code": code, "heavy": [m for m in watched if m in sys.modules]}), file=sys.stderr)
"""


def run(
    *args: str, env: dict[str, str] | None = None, watch: tuple[str, ...] = HEAVY
) -> tuple[int, list[str], str]:
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {}), "CLI_IMPORTS_WATCH": json.dumps(watch)},
    )
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    return report["code"], report["heavy"], proc.stdout + proc.stderr


HELP_INVOCATIONS = command_words()


@pytest.mark.parametrize("words", HELP_INVOCATIONS, ids=lambda w: " ".join(w) or "top")
def test_help_imports_nothing_heavy(words: list[str]) -> None:
    code, heavy, output = run(*words, "--help")
    assert code == 0, output
    assert "Usage" in output
    assert heavy == [], f"{' '.join(words)} --help imported {heavy}"


def test_top_help_lists_every_command_without_importing_them() -> None:
    _, _, output = run("--help")
    for name, entry in COMMANDS.items():
        assert name in output
        assert entry.help.split()[0] in output


@pytest.mark.parametrize(
    "words",
    [
        *([name] for name in COMMANDS),
        ["pnl", "--ex-id", "1"],
        ["accounts", "add", "--exchange", "kraken", "--name", "n", "--user", "u@example.com"],
        ["accounts", "list"],
        ["dlq", "list"],
        ["db", "current"],
    ],
    ids=" ".join,
)
def test_configuration_error_comes_before_any_heavy_import(words: list[str]) -> None:
    code, heavy, output = run(*words, env={"ACCOUNT_POLL_INTERVAL": "often"})
    assert code == 2, output
    assert "configuration error" in output and "ACCOUNT_POLL_INTERVAL" in output
    assert heavy == []


def test_bad_settings_do_not_block_help() -> None:
    code, _, output = run("producer", "--help", env={"ACCOUNT_POLL_INTERVAL": "often"})
    assert code == 0 and "Usage" in output


def test_every_registered_command_loads() -> None:
    """The lazy registry points at real commands (the top help never imports them)."""
    for name in COMMANDS:
        assert isinstance(load_command(name), TyperCommand | TyperGroup), name


def test_light_copies_match_the_originals() -> None:
    from fullon_account_service.simulator.scenario import VENUES
    from fullon_account_service.sinks.runner import GROUPS

    assert tuple(GROUPS) == SINK_GROUPS
    assert SIM_VENUES == VENUES


def test_known_exchange_reads_ccxt_without_importing_it() -> None:
    import ccxt.pro

    from fullon_account_service.account_admin import known_exchange

    assert all(known_exchange(name) for name in ccxt.pro.exchanges)
    assert not known_exchange("nosuchexchange") and not known_exchange("../base")


def test_simulate_offers_register_and_access_log() -> None:
    code, _, output = run("simulate", "--help", env={"COLUMNS": "200"})
    assert code == 0
    assert "--register" in output and "--access-log" in output and "--secrets" in output


NO_EXCHANGE = [
    ["health"],
    ["tail", "--timeout", "0"],
    ["accounts", "list"],
    ["accounts", "add", "--exchange", "kraken", "--name", "n", "--user", "u@example.com"],
    ["accounts", "remove", "--ex-id", "1"],
    ["db", "current"],
    ["pnl", "--ex-id", "1"],
]


@pytest.mark.parametrize("words", NO_EXCHANGE, ids=" ".join)
def test_commands_that_talk_to_no_exchange_never_import_ccxt(words: list[str], tmp_path: Path) -> None:
    """On the embedded backends (a SQLite file of its own): whatever the exit code, no ccxt."""
    env = {"ACCOUNT_DATA_DIR": str(tmp_path), "DATABASE_URL": "", "REDIS_URL": "", "LOG_LEVEL": "WARNING"}
    code, heavy, output = run(*words, env=env)
    assert code in (0, 1, 2), output
    assert "ccxt" not in heavy and "matplotlib" not in heavy, output


def test_subcommand_help_offers_no_shell_completion() -> None:
    """Completion is installed for the whole program, never per subcommand."""
    for words in (["db"], ["pnl"], ["accounts", "list"]):
        _, _, output = run(*words, "--help", env={"COLUMNS": "200"})
        assert "completion" not in output, words


@pytest.mark.parametrize(("words", "suggestion"), [(["acounts", "list"], "'accounts'"), (["pnll"], "'pnl'")])
def test_a_mistyped_command_gets_a_suggestion(words: list[str], suggestion: str) -> None:
    """Before the settings are read: a typo is news even when the environment is wrong too."""
    code, heavy, output = run(*words, env={"ACCOUNT_POLL_INTERVAL": "often", "COLUMNS": "200"})
    assert code == 2, output
    assert f"No such command '{words[0]}'. Did you mean {suggestion}?" in output
    assert "configuration error" not in output
    assert heavy == []


def test_a_mistyped_subcommand_gets_a_suggestion() -> None:
    code, _, output = run("accounts", "lsit", env={"COLUMNS": "200"})
    assert code == 2 and "No such command 'lsit'. Did you mean 'list'?" in output, output


def test_a_command_nothing_like_any_gets_no_suggestion() -> None:
    code, _, output = run("frobnicate", env={"COLUMNS": "200"})
    assert code == 2 and "No such command 'frobnicate'" in output and "Did you mean" not in output


NOT_FOR_PLAIN_SQL = {"sqlalchemy", "alembic", "structlog", "pydantic", REPOSITORIES}
ADD = ["accounts", "add", "--exchange", "kraken", "--name", "n", "--user", "u@example.com"]
TYPER_CHECKED = NOT_FOR_PLAIN_SQL - {"pydantic"}
"""typer checks the values of some options (an int, several strings) through pydantic: its cost."""
LIGHT = [
    (["db", "current"], 0, NOT_FOR_PLAIN_SQL),
    (["accounts", "list"], 0, NOT_FOR_PLAIN_SQL),
    (ADD, 0, TYPER_CHECKED),
    (["accounts", "remove", "--ex-id", "999"], 1, TYPER_CHECKED),
    (["accounts", "remove", "--ex-id", "999", "--deactivate"], 1, TYPER_CHECKED),
    (["pnl", "--ex-id", "1"], 2, TYPER_CHECKED),
]


@pytest.mark.parametrize(("words", "exit_code", "absent"), LIGHT, ids=[" ".join(w) for w, _, _ in LIGHT])
def test_plain_sql_commands_import_neither_sqlalchemy_nor_a_migration_tool(
    words: list[str], exit_code: int, absent: set[str], tmp_path: Path
) -> None:
    """SQLAlchemy (its asyncio extension imports the ORM: most of a second), Alembic, structlog
    and the repositories stay out of the reads and the account writes, which the driver makes
    alone; an embedded database is migrated once beforehand, as a first command would have done."""
    env = {"ACCOUNT_DATA_DIR": str(tmp_path), "DATABASE_URL": "", "REDIS_URL": "", "LOG_LEVEL": "WARNING"}
    code, _, output = run("db", "upgrade", env=env)
    assert code == 0, output
    code, heavy, output = run(*words, env=env, watch=(*HEAVY, "structlog", "aiosqlite"))
    assert code == exit_code, output
    assert "aiosqlite" in heavy, "the command went to the database"
    assert absent.isdisjoint(heavy), f"{' '.join(words)} imported {absent & set(heavy)}"


def test_accounts_add_then_remove_without_sqlalchemy(tmp_path: Path) -> None:
    env = {"ACCOUNT_DATA_DIR": str(tmp_path), "DATABASE_URL": "", "REDIS_URL": "", "LOG_LEVEL": "WARNING"}
    code, _, output = run("db", "upgrade", env=env)
    assert code == 0, output
    code, _, output = run(*ADD, env=env)
    assert code == 0 and "added ex_id 1: kraken 'n' of u@example.com" in output, output
    code, heavy, output = run("accounts", "remove", "--ex-id", "1", env=env, watch=("sqlalchemy",))
    assert code == 0 and "removed ex_id 1" in output and heavy == [], output
    code, _, output = run("accounts", "list", "--json", env=env)
    assert code == 0 and "[]" in output, output


def test_accounts_add_on_a_fresh_embedded_database_migrates_it(tmp_path: Path) -> None:
    env = {"ACCOUNT_DATA_DIR": str(tmp_path), "DATABASE_URL": "", "REDIS_URL": "", "LOG_LEVEL": "WARNING"}
    code, heavy, output = run(*ADD, env=env)
    assert code == 0 and "added ex_id 1" in output and "alembic" in heavy, output
    code, _, output = run("accounts", "list", "--json", env=env)
    assert code == 0 and '"exchange": "kraken"' in output, output


def test_accounts_list_on_a_fresh_embedded_database_migrates_it(tmp_path: Path) -> None:
    env = {"ACCOUNT_DATA_DIR": str(tmp_path), "DATABASE_URL": "", "REDIS_URL": "", "LOG_LEVEL": "WARNING"}
    code, heavy, output = run("accounts", "list", "--json", env=env)
    assert code == 0, output
    assert "[]" in output and "alembic" in heavy
    code, _, output = run("db", "current", env=env)
    assert code == 0 and "at revision none" not in output, output


@pytest.mark.parametrize(
    "words",
    [["health"], ["health", "--no-explain"], ["tail"], ["dlq", "list"], ["dlq", "replay", "--all"]],
    ids=" ".join,
)
def test_readers_of_the_bus_stop_at_once_without_a_redis(words: list[str], tmp_path: Path) -> None:
    """The embedded Redis lives in the process that made it: these would read an empty bus. They
    say so before importing any Redis client (fakeredis imports numpy: about a second)."""
    env = {"ACCOUNT_DATA_DIR": str(tmp_path), "DATABASE_URL": "", "REDIS_URL": "", "LOG_LEVEL": "WARNING"}
    code, heavy, output = run(*words, env=env, watch=(*TYPER_CHECKED, "ccxt", "fakeredis", "numpy", "redis"))
    assert code == 2, output
    [line] = output.strip().splitlines()[:-1]
    assert line.startswith(f"error: {words[0]} reads what producers and sinks wrote to Redis"), line
    assert "set REDIS_URL" in line
    assert heavy == [], f"{' '.join(words)} imported {heavy} to say so"


async def test_health_reads_the_database_without_sqlalchemy_and_still_fails(
    session_factory: async_sessionmaker[AsyncSession], database_url: str, redis_url: str, tmp_path: Path
) -> None:
    """Balance explained through the driver alone (``plain_history``): 2.5 USD came in with no fill
    and no ledger entry to explain them, and the verdict says so (exit 1)."""
    prefix = "health-plain:"
    redis = aioredis.Redis.from_url(redis_url)
    try:
        await BalanceAnchors(redis, prefix=prefix).record(
            [(4, 1_000, {"USD": 10.0}), (4, 2_000, {"USD": 12.5})]
        )
        cursors = CursorStore(redis, prefix=prefix)
        await cursors.advance(4, 5_000)
        await cursors.named(LEDGER_CURSOR).advance(4, 5_000)
    finally:
        await redis.aclose()
    env = {
        "ACCOUNT_DATA_DIR": str(tmp_path),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ACCOUNT_STREAM_PREFIX": prefix,
        "LOG_LEVEL": "WARNING",
    }
    driver = "aiosqlite" if database_url.startswith("sqlite") else "asyncpg"
    code, heavy, output = run("health", "--json", env=env, watch=("ccxt", "sqlalchemy", "alembic", driver))
    assert code == 1, output
    assert heavy == [driver], f"health imported {heavy}"
    assert "account 4 USD: +2.5 unexplained between" in output
