"""Settings: embedded defaults, URLs winning over parts, and bad values naming their variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from fullon_account_service.errors import ConfigError
from fullon_account_service.redis_client import is_cluster, make_redis
from fullon_account_service.settings import Settings


def test_defaults_are_embedded() -> None:
    settings = Settings.from_env({})
    assert settings.embedded_redis
    assert settings.redis_url is None
    assert settings.is_sqlite
    assert settings.database_url == f"sqlite+aiosqlite:///{Path('data') / 'fullon_account.db'}"
    assert (settings.log_level, settings.log_format, settings.log_console) == ("INFO", "console", True)
    assert (settings.poll_interval_s, settings.reconnect_delay_s, settings.max_retries) == (60.0, 5.0, 3)
    assert settings.stream_prefix == "fullon:account:"
    assert settings.heap_trim_s == 60.0
    assert Settings.from_env({"ACCOUNT_HEAP_TRIM_S": "0"}).heap_trim_s == 0.0


def test_data_dir_moves_the_sqlite_file(tmp_path: Path) -> None:
    settings = Settings.from_env({"ACCOUNT_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'fullon_account.db'}"


def test_parts_build_urls() -> None:
    settings = Settings.from_env(
        {
            "DB_HOST": "db.local",
            "DB_PORT": "5433",
            "DB_USER": "fullon",
            "DB_PASSWORD": "p@ss/word",
            "DB_NAME": "accounts",
            "CACHE_HOST": "cache.local",
            "CACHE_PORT": "6380",
            "CACHE_DB": "4",
        }
    )
    assert settings.database_url == "postgresql+asyncpg://fullon:p%40ss%2Fword@db.local:5433/accounts"
    assert settings.redis_url == "redis://cache.local:6380/4"


def test_urls_win_over_parts() -> None:
    settings = Settings.from_env(
        {
            "DB_HOST": "db.local",
            "DB_PORT": "5433",
            "DATABASE_URL": "postgresql://u@10.0.0.1:5432/x",
            "CACHE_HOST": "cache.local",
            "CACHE_DB": "4",
            "REDIS_URL": "redis://10.0.0.2:6379/9",
        }
    )
    assert settings.database_url == "postgresql+asyncpg://u@10.0.0.1:5432/x"
    assert settings.redis_url == "redis://10.0.0.2:6379/9"
    assert not settings.embedded_redis


def test_url_wins_even_when_a_part_is_bad() -> None:
    settings = Settings.from_env({"CACHE_HOST": "h", "CACHE_PORT": "nope", "REDIS_URL": "redis://h:1/0"})
    assert settings.redis_url == "redis://h:1/0"


def test_fullon_cache_variables_point_at_its_redis() -> None:
    """fullon_cache reads REDIS_HOST/PORT/DB/PASSWORD with defaults localhost, 6379, 0: any of
    them set means fullon's Redis, and the service must write where fullon_cache reads."""
    settings = Settings.from_env({"REDIS_HOST": "cache.fullon", "REDIS_PORT": "6390", "REDIS_DB": "3"})
    assert settings.redis_url == "redis://cache.fullon:6390/3"
    assert Settings.from_env({"REDIS_DB": "2"}).redis_url == "redis://localhost:6379/2"
    with_password = Settings.from_env({"REDIS_HOST": "h", "REDIS_PASSWORD": "s3:cr/t"})
    assert with_password.redis_url == "redis://:s3%3Acr%2Ft@h:6379/0"


def test_redis_precedence_url_then_cache_then_redis_parts() -> None:
    fullon = {"REDIS_HOST": "fullon.local", "REDIS_PORT": "6390", "REDIS_DB": "3"}
    cache = {"CACHE_HOST": "cache.local", "CACHE_DB": "4"}
    assert Settings.from_env({**fullon, **cache}).redis_url == "redis://cache.local:6379/4"
    url = {"REDIS_URL": "redis://10.0.0.2:6379/9"}
    assert Settings.from_env({**fullon, **cache, **url}).redis_url == "redis://10.0.0.2:6379/9"
    assert Settings.from_env({"CACHE_PORT": "6390", "CACHE_DB": "4"}).redis_url is None


def test_seed_variables_are_read() -> None:
    settings = Settings.from_env(
        {
            "LOG_LEVEL": "debug",
            "LOG_FORMAT": "JSON",
            "LOG_CONSOLE": "false",
            "ACCOUNT_POLL_INTERVAL": "2.5",
            "ACCOUNT_RECONNECT_DELAY": "1",
            "ACCOUNT_MAX_RETRIES": "0",
            "ACCOUNT_MAX_AUDITS": "40",
            "ACCOUNT_OUTBOX_MAX_EVENTS": "5000",
            "ACCOUNT_MAX_RECONCILIATIONS": "7",
        }
    )
    assert (settings.log_level, settings.log_format, settings.log_console) == ("DEBUG", "json", False)
    assert (settings.poll_interval_s, settings.reconnect_delay_s, settings.max_retries) == (2.5, 1.0, 0)
    assert settings.max_audits == 40
    assert settings.outbox_max_events == 5000
    assert settings.max_reconciliations == 7
    assert Settings.from_env({}).outbox_max_events == 2000
    assert Settings.from_env({}).max_reconciliations == 50


@pytest.mark.parametrize(
    ("name", "value", "extra"),
    [
        ("DB_PORT", "abc", {"DB_HOST": "db"}),
        ("DB_PORT", "0", {"DB_HOST": "db"}),
        ("CACHE_PORT", "70000", {"CACHE_HOST": "cache"}),
        ("CACHE_DB", "-1", {"CACHE_HOST": "cache"}),
        ("REDIS_PORT", "0", {"REDIS_HOST": "cache"}),
        ("REDIS_DB", "x", {}),
        ("LOG_LEVEL", "LOUD", {}),
        ("LOG_FORMAT", "xml", {}),
        ("LOG_CONSOLE", "maybe", {}),
        ("ACCOUNT_POLL_INTERVAL", "0", {}),
        ("ACCOUNT_POLL_INTERVAL", "soon", {}),
        ("ACCOUNT_RECONNECT_DELAY", "-1", {}),
        ("ACCOUNT_MAX_RETRIES", "1.5", {}),
        ("REDIS_URL", "http://localhost:6379", {}),
        ("DATABASE_URL", "mysql://localhost/x", {}),
        ("ACCOUNT_REDIS_CLUSTER", "sometimes", {"REDIS_URL": "redis://n1:6379/0"}),
        ("ACCOUNT_STREAM_PARTITIONS", "0", {}),
        ("ACCOUNT_STREAM_PARTITIONS", "two", {}),
        ("ACCOUNT_HEAP_TRIM_S", "-1", {}),
        ("ACCOUNT_HEAP_TRIM_S", "nan", {}),
        ("ACCOUNT_MAX_AUDITS", "0", {}),
        ("ACCOUNT_OUTBOX_MAX_EVENTS", "0", {}),
        ("ACCOUNT_MAX_RECONCILIATIONS", "0", {}),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, extra: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({**extra, name: value})
    message = str(info.value)
    assert name in message
    assert value in message
    assert "expected" in message


def test_cluster_and_partitions() -> None:
    plain = Settings.from_env({"REDIS_URL": "redis://n1:6379/0"})
    assert (plain.redis_cluster, plain.stream_partitions) == (False, 1)
    env = {
        "REDIS_URL": "redis://n1:6379/0",
        "ACCOUNT_REDIS_CLUSTER": "true",
        "ACCOUNT_STREAM_PARTITIONS": "6",
    }
    clustered = Settings.from_env(env)
    assert (clustered.redis_cluster, clustered.stream_partitions) == (True, 6)
    assert is_cluster(make_redis(clustered))  # built without connecting
    assert not is_cluster(make_redis(plain))


def test_cluster_needs_a_redis_url() -> None:
    with pytest.raises(ConfigError, match="ACCOUNT_REDIS_CLUSTER=true needs REDIS_URL"):
        Settings.from_env({"ACCOUNT_REDIS_CLUSTER": "true"})
