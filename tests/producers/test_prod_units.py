"""Credentials, capabilities, cursor, outbox, shard: the small pieces on their own."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

from factories import normalised_fills
from fullon_account_service.bus.publisher import Publisher
from fullon_account_service.contract import Envelope
from fullon_account_service.errors import ConfigError, CredentialsError, TransientError
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.capabilities import CapabilityDetector, CollectionStrategy
from fullon_account_service.producers.credentials import CredentialResolver
from fullon_account_service.producers.cursor import CursorStore
from fullon_account_service.producers.discovery import Shard
from fullon_account_service.producers.normalise import Normaliser
from fullon_account_service.producers.outbox import Outbox
from fullon_account_service.redaction import redact_text
from fullon_account_service.retry import RetryPolicy
from fullon_account_service.settings import Settings
from fullon_account_service.utils.capability_detector import CapabilityDetector as SeedDetector
from retry_policies import QUICK


def test_env_credentials_and_wallet_mapping() -> None:
    env = {"EX_ID_3_KEY": "0xwallet-address", "EX_ID_3_SECRET": "0xprivate-key-123"}
    creds = CredentialResolver(env).resolve(3)
    assert creds.ccxt_config("hyperliquid") == {
        "walletAddress": "0xwallet-address",
        "privateKey": "0xprivate-key-123",
    }
    assert creds.ccxt_config("kraken") == {"apiKey": "0xwallet-address", "secret": "0xprivate-key-123"}
    assert "0xprivate-key-123" not in repr(creds)
    assert "0xprivate-key-123" not in redact_text("oops 0xprivate-key-123")


def test_missing_or_half_credentials_are_errors() -> None:
    with pytest.raises(CredentialsError, match="EX_ID_9_KEY"):
        CredentialResolver({}).resolve(9)
    with pytest.raises(CredentialsError, match="both"):
        CredentialResolver({"EX_ID_9_KEY": "k-only-key"}).resolve(9)


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_secrets_file_must_be_0600(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"secrets{suffix}"
    if suffix == ".json":
        path.write_text(
            json.dumps({"4": {"key": "file-key-4", "secret": "file-secret-4", "passphrase": "pp-4444"}})
        )
    else:
        path.write_text('[4]\nkey = "file-key-4"\nsecret = "file-secret-4"\npassphrase = "pp-4444"\n')
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="0600"):
        CredentialResolver({}, path).resolve(4)
    os.chmod(path, 0o600)
    creds = CredentialResolver({}, path).resolve(4)
    assert creds.ccxt_config("bybit") == {
        "apiKey": "file-key-4",
        "secret": "file-secret-4",
        "password": "pp-4444",
    }


def test_secrets_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    """An account added to the file while the producer runs is found at its next attempt; a file
    that cannot be read now keeps serving what was read before, and says why to an account that
    is not in it."""
    path = tmp_path / "secrets.json"

    def write(entries: dict[str, dict[str, str]], mode: int = 0o600) -> None:
        path.write_text(json.dumps(entries))
        os.chmod(path, mode)

    write({"4": {"key": "file-key-4", "secret": "file-secret-4"}})
    resolver = CredentialResolver({}, path)
    assert resolver.resolve(4).key == "file-key-4"
    with pytest.raises(CredentialsError, match="no credentials for ex_id 5"):
        resolver.resolve(5)
    write({"4": {"key": "file-key-4", "secret": "file-secret-4"}, "5": {"key": "key-5", "secret": "sec-5"}})
    assert resolver.resolve(5).key == "key-5"

    with capture_logs() as logs:
        os.chmod(path, 0o644)
        assert resolver.resolve(4).key == "file-key-4"
        write(
            {"4": {"key": "file-key-4", "secret": "file-secret-4"}, "6": {"key": "key-6", "secret": "sec-6"}},
            0o644,
        )
        for _ in range(3):
            with pytest.raises(ConfigError, match="0600"):
                resolver.resolve(6)
            assert resolver.resolve(5).key == "key-5"
    assert [e["event"] for e in logs] == ["secrets file not read; keeping the entries read before"]
    assert "sec-6" not in str(logs)
    os.chmod(path, 0o600)
    assert resolver.resolve(6).key == "key-6"
    with pytest.raises(CredentialsError, match="no credentials for ex_id 5"):
        resolver.resolve(5)


async def test_strategies_per_venue_and_forced_rest() -> None:
    detector = CapabilityDetector()
    expected = {
        "kraken": CollectionStrategy.PARTIAL_WEBSOCKET,
        "bybit": CollectionStrategy.FULL_WEBSOCKET,
        "hyperliquid": CollectionStrategy.FULL_WEBSOCKET,
    }
    for n, (venue, strategy) in enumerate(expected.items()):
        ref = AccountRef(ex_id=n, uid=1, venue=venue)
        assert await detector.detect_strategy(ref) is strategy
    caps = await detector.get_capabilities(AccountRef(ex_id=1, uid=1, venue="kraken"))
    assert caps == {
        "balance": True,
        "orders": True,
        "positions": False,
        "my_trades": True,
        "ledger": True,
    }
    forced = AccountRef(ex_id=5, uid=1, venue="bybit", force_rest=True)
    assert await SeedDetector().detect_strategy(forced) is CollectionStrategy.REST_ONLY


def test_failing_stream_moves_to_rest_then_back() -> None:
    now = [0.0]
    detector = CapabilityDetector(max_failures=2, cooldown_s=10, clock=lambda: now[0])
    ref = AccountRef(ex_id=1, uid=1, venue="bybit")
    assert not detector.record_failure(1, "orders")
    assert detector.record_failure(1, "orders")
    assert detector.capabilities(ref)["orders"] is False
    assert detector.strategy(detector.capabilities(ref)) is CollectionStrategy.PARTIAL_WEBSOCKET
    now[0] = 11.0
    assert detector.capabilities(ref)["orders"] is True


async def test_cursor_only_moves_forward(redis_client: aioredis.Redis, settings: Settings) -> None:
    cursors = CursorStore(redis_client, prefix=settings.stream_prefix)
    assert await cursors.get(1) is None
    assert await cursors.advance(1, 100) == 100
    assert await cursors.advance(1, 50) == 100
    assert await cursors.get(1) == 100


def test_shard_is_stable_and_partitions() -> None:
    shards = [Shard.parse(f"{i}/3") for i in range(3)]
    owners = [[s.owns(ex_id) for s in shards].count(True) for ex_id in range(200)]
    assert owners == [1] * 200
    assert {ex_id for ex_id in range(200) if shards[1].owns(ex_id)} == {
        e for e in range(200) if Shard(1, 3).owns(e)
    }
    with pytest.raises(ConfigError):
        Shard.parse("3/3")


def _envelopes(n: int) -> list[Envelope]:
    return normalised_fills(n)


class FlakyPublisher(Publisher):
    """Fails while ``down`` is set, like a Redis that went away."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        super().__init__(redis, prefix=prefix)
        self.down = True

    async def publish(self, envelopes: Any, before: Any = ()) -> list[str]:
        if self.down:
            raise TransientError("redis publish failed: ConnectionError")
        return await super().publish(envelopes, before)


async def test_outbox_keeps_events_while_redis_is_down(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    prefix = settings.stream_prefix
    publisher = FlakyPublisher(redis_client, prefix)
    outbox = Outbox(publisher, redis_client, prefix=prefix, retry=QUICK, max_pending=10)
    outbox.start()
    envelopes = _envelopes(25)
    waiter = asyncio.create_task(outbox.publish(envelopes))
    async with asyncio.timeout(60):
        while not (outbox.failures > 0 and outbox.pending == 10):
            await asyncio.sleep(0.01)
    assert not waiter.done()
    publisher.down = False
    async with asyncio.timeout(60):
        await waiter
    assert await redis_client.xlen(f"{prefix}trade") == 25
    await outbox.close()


async def test_rate_limits_slow_the_poller_and_honour_retry_after(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    from fullon_account_service.errors import RateLimited
    from fullon_account_service.producers.context import ProducerContext
    from fullon_account_service.producers.rest_poller import RestAccountPoller
    from fullon_account_service.producers.session import AccountSession

    ctx = ProducerContext.from_settings(settings, redis=redis_client, overrides={}, env={})
    calls: list[tuple[str, ...]] = []

    async def storm(session: object, kinds: tuple[str, ...], source: object) -> None:
        calls.append(tuple(kinds))
        raise RateLimited("kraken fetch_balance: RateLimitExceeded", retry_after_s=2.0)

    ctx.reconciler.run = storm  # type: ignore[method-assign]
    poller = RestAccountPoller(context=ctx, poll_interval=0.5)
    ref = AccountRef(ex_id=1, uid=1, venue="kraken")
    session = AccountSession(ref, None, Normaliser(ref, set(), str), asyncio.Lock())
    backoff = RetryPolicy.exponential(0.5, 60.0).start()
    delays = [(await poller._cycle(session, False, backoff))[0] for _ in range(6)]
    assert all(d is not None and d >= 2.0 for d in delays)
    assert delays[-1] > 8.0 > 0.5  # exponential: far slower than the normal interval
    assert ctx.status[1][0] == "running" and "rate limited" in ctx.status[1][1]
    assert all("fills" in kinds for kinds in calls)
    await ctx.close()
