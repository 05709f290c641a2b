"""Settings: one frozen object built from the environment at start-up.

Every variable of the seed is honoured; ``DATABASE_URL`` wins over the ``DB_*`` parts. Redis:
``REDIS_URL`` wins over ``CACHE_*`` (used when ``CACHE_HOST`` is set), which win over
fullon_cache's own ``REDIS_HOST`` / ``REDIS_PORT`` / ``REDIS_DB`` / ``REDIS_PASSWORD`` (used when
any of them is set, with fullon_cache's defaults localhost, 6379, 0), so a service started in
fullon's environment writes to the Redis fullon_cache reads. With nothing set the service runs
embedded: SQLite in a data directory and an in-process fakeredis. A bad value raises
``ConfigError`` naming the variable and what was expected, so start-up stops before anything
connects anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from fullon_account_service.errors import ConfigError

T = TypeVar("T")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("json", "console", "beautiful")


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str
    redis_url: str | None
    data_dir: Path
    log_level: str = "INFO"
    log_format: str = "console"
    log_console: bool = True
    poll_interval_s: float = 60.0
    reconnect_delay_s: float = 5.0
    ws_silence_s: float = 15.0
    clock_skew_ms: int = 5_000
    audit_interval_s: float = 300.0
    max_audits: int = 10
    max_reconciliations: int = 50
    max_retries: int = 3
    stream_prefix: str = "fullon:account:"
    stream_retain: int = 100_000
    claim_idle_ms: int = 30_000
    max_deliveries: int = 5
    batch_size: int = 500
    outbox_max_events: int = 2_000
    """Events the producer's outbox holds before its writers wait (``producers.outbox``)."""
    rediscover_interval_s: float = 30.0
    secrets_file: Path | None = None
    metrics_port: int | None = None
    dlq_warn: int = 1_000
    explain_band_ms: int = 2_000
    redis_cluster: bool = False
    stream_partitions: int = 1
    lease_ttl_s: float = 15.0
    lease_renew_s: float = 5.0
    lease_stall_s: float = 60.0
    """Leases are renewed (off the event loop) only while the loop turned within this many seconds."""
    heap_trim_s: float = 60.0
    """Seconds between two ``malloc_trim(0)`` of the producer (glibc only; 0 turns it off)."""

    @property
    def embedded_redis(self) -> bool:
        return self.redis_url is None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        return _parse(os.environ if env is None else env)


def _get(env: Mapping[str, str], name: str, conv: Callable[[str], T], expected: str, default: T) -> T:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return conv(raw.strip())
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{name}={raw!r} is invalid: expected {expected}") from e


def _positive(conv: Callable[[str], T]) -> Callable[[str], T]:
    def check(raw: str) -> T:
        value = conv(raw)
        if not value > 0:  # type: ignore[operator]
            raise ValueError(raw)
        return value

    return check


def _at_least(floor: float) -> Callable[[str], float]:
    def check(raw: str) -> float:
        value = float(raw)
        if not value >= floor:
            raise ValueError(raw)
        return value

    return check


_non_negative_float = _at_least(0.0)


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError(raw)
    return value


def _bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def _choice(options: tuple[str, ...], upper: bool) -> Callable[[str], str]:
    def check(raw: str) -> str:
        value = raw.upper() if upper else raw.lower()
        if value not in options:
            raise ValueError(raw)
        return value

    return check


def _port(raw: str) -> int:
    value = int(raw)
    if not 0 < value < 65536:
        raise ValueError(raw)
    return value


def _url(schemes: tuple[str, ...]) -> Callable[[str], str]:
    def check(raw: str) -> str:
        if not raw.startswith(schemes):
            raise ValueError(raw)
        return raw

    return check


def _database_url(env: Mapping[str, str], data_dir: Path) -> str:
    url = _get(
        env,
        "DATABASE_URL",
        _url(("postgresql", "sqlite")),
        "a postgresql+asyncpg:// or sqlite+aiosqlite:/// URL",
        "",
    )
    if url:
        return _async_driver(url)
    host = env.get("DB_HOST", "").strip()
    if not host:
        return f"sqlite+aiosqlite:///{data_dir / 'fullon_account.db'}"
    port = _get(env, "DB_PORT", _port, "a TCP port (1-65535)", 5432)
    user = quote(env.get("DB_USER", "postgres"), safe="")
    password = env.get("DB_PASSWORD", "")
    auth = f"{user}:{quote(password, safe='')}" if password else user
    name = env.get("DB_NAME", "fullon")
    return f"postgresql+asyncpg://{auth}@{host}:{port}/{name}"


def _async_driver(url: str) -> str:
    """Accept the plain URLs operators paste and pick the async driver for them."""
    for plain, driver in (("postgresql://", "postgresql+asyncpg://"), ("sqlite://", "sqlite+aiosqlite://")):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


FULLON_REDIS_VARIABLES = ("REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_PASSWORD")


def _redis_url(env: Mapping[str, str]) -> str | None:
    url = _get(env, "REDIS_URL", _url(("redis://", "rediss://", "unix://")), "a redis:// URL", "")
    if url:
        return url
    if env.get("CACHE_HOST", "").strip():
        return _redis_parts(env, "CACHE_", "")
    if any(env.get(name, "").strip() for name in FULLON_REDIS_VARIABLES):
        return _redis_parts(env, "REDIS_", "localhost")
    return None


def _redis_parts(env: Mapping[str, str], prefix: str, default_host: str) -> str:
    host = env.get(f"{prefix}HOST", "").strip() or default_host
    port = _get(env, f"{prefix}PORT", _port, "a TCP port (1-65535)", 6379)
    db = _get(env, f"{prefix}DB", _non_negative_int, "a Redis database number (>= 0)", 0)
    password = env.get(f"{prefix}PASSWORD", "")
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"redis://{auth}{host}:{port}/{db}"


def _lease_times(env: Mapping[str, str]) -> tuple[float, float]:
    """Lease TTL and renewal interval; a renewal slower than half the TTL could let a lease lapse
    after one late or lost renewal, so it is refused at start-up."""
    ttl = _get(env, "ACCOUNT_LEASE_TTL_S", _positive(float), "seconds > 0", 15.0)
    renew = _get(env, "ACCOUNT_LEASE_RENEW_S", _positive(float), "seconds > 0", min(5.0, ttl / 3))
    if not renew < ttl / 2:
        raise ConfigError(
            f"ACCOUNT_LEASE_RENEW_S={renew:g} is invalid: expected less than half of"
            f" ACCOUNT_LEASE_TTL_S={ttl:g}"
        )
    return ttl, renew


def _parse(env: Mapping[str, str]) -> Settings:
    lease_ttl_s, lease_renew_s = _lease_times(env)
    data_dir = Path(_get(env, "ACCOUNT_DATA_DIR", str, "a directory path", "data"))
    secrets = _get(env, "ACCOUNT_SECRETS_FILE", str, "a file path", "")
    metrics = _get(env, "ACCOUNT_METRICS_PORT", _port, "a TCP port (1-65535)", 0)
    cluster = _get(env, "ACCOUNT_REDIS_CLUSTER", _bool, "true or false", False)
    redis_url = _redis_url(env)
    if cluster and redis_url is None:
        raise ConfigError("ACCOUNT_REDIS_CLUSTER=true needs REDIS_URL (any node of the cluster)")
    return Settings(
        database_url=_database_url(env, data_dir),
        redis_url=redis_url,
        data_dir=data_dir,
        log_level=_get(env, "LOG_LEVEL", _choice(LOG_LEVELS, upper=True), "/".join(LOG_LEVELS), "INFO"),
        log_format=_get(
            env, "LOG_FORMAT", _choice(LOG_FORMATS, upper=False), "/".join(LOG_FORMATS), "console"
        ),
        log_console=_get(env, "LOG_CONSOLE", _bool, "true or false", True),
        poll_interval_s=_get(env, "ACCOUNT_POLL_INTERVAL", _positive(float), "seconds > 0", 60.0),
        reconnect_delay_s=_get(env, "ACCOUNT_RECONNECT_DELAY", _positive(float), "seconds > 0", 5.0),
        ws_silence_s=_get(env, "ACCOUNT_WS_SILENCE_S", _positive(float), "seconds > 0", 15.0),
        clock_skew_ms=_get(env, "ACCOUNT_CLOCK_SKEW_MS", _positive(int), "milliseconds > 0", 5_000),
        audit_interval_s=_get(env, "ACCOUNT_AUDIT_INTERVAL_S", _positive(float), "seconds > 0", 300.0),
        max_audits=_get(env, "ACCOUNT_MAX_AUDITS", _positive(int), "an integer > 0", 10),
        max_reconciliations=_get(env, "ACCOUNT_MAX_RECONCILIATIONS", _positive(int), "an integer > 0", 50),
        max_retries=_get(env, "ACCOUNT_MAX_RETRIES", _non_negative_int, "an integer >= 0", 3),
        stream_prefix=_get(env, "ACCOUNT_STREAM_PREFIX", str, "a key prefix", "fullon:account:"),
        stream_retain=_get(env, "ACCOUNT_STREAM_RETAIN", _non_negative_int, "an integer >= 0", 100_000),
        claim_idle_ms=_get(env, "ACCOUNT_CLAIM_IDLE_MS", _positive(int), "milliseconds > 0", 30_000),
        max_deliveries=_get(env, "ACCOUNT_MAX_DELIVERIES", _positive(int), "an integer > 0", 5),
        batch_size=_get(env, "ACCOUNT_BATCH_SIZE", _positive(int), "an integer > 0", 500),
        outbox_max_events=_get(env, "ACCOUNT_OUTBOX_MAX_EVENTS", _positive(int), "an integer > 0", 2_000),
        rediscover_interval_s=_get(env, "ACCOUNT_REDISCOVER_INTERVAL", _positive(float), "seconds > 0", 30.0),
        secrets_file=Path(secrets) if secrets else None,
        metrics_port=metrics or None,
        dlq_warn=_get(env, "ACCOUNT_DLQ_WARN", _non_negative_int, "an integer >= 0", 1_000),
        explain_band_ms=_get(env, "ACCOUNT_EXPLAIN_BAND_MS", _non_negative_int, "an integer >= 0", 2_000),
        redis_cluster=cluster,
        stream_partitions=_get(env, "ACCOUNT_STREAM_PARTITIONS", _positive(int), "an integer > 0", 1),
        lease_ttl_s=lease_ttl_s,
        lease_renew_s=lease_renew_s,
        lease_stall_s=_get(env, "ACCOUNT_LEASE_STALL_S", _at_least(2.0), "seconds >= 2", 60.0),
        heap_trim_s=_get(env, "ACCOUNT_HEAP_TRIM_S", _non_negative_float, "seconds >= 0 (0: off)", 60.0),
    )
