"""ACCOUNT_MAX_RETRIES: a REST call that fails on the network is tried again, a rate limit is not."""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt
import pytest

from fullon_account_service.errors import RateLimited, TransientError
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.session import AccountSession
from fullon_account_service.retry import RetryPolicy


class _Flaky:
    """Stands in for a ccxt client's one method: fails ``failures`` times, then answers."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    async def fetch_balance(self) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return {"ok": True}


def _session(client: _Flaky, max_retries: int) -> AccountSession:
    ref = AccountRef(ex_id=1, uid=1, venue="kraken")
    return AccountSession(
        ref, client, normaliser=None, key_lock=asyncio.Lock(), retry=RetryPolicy.immediate(max_retries)
    )


async def test_network_errors_are_retried_up_to_max_retries() -> None:
    client = _Flaky(failures=2, error=ccxt.NetworkError("connection reset"))
    assert await _session(client, max_retries=2).call("fetch_balance") == {"ok": True}
    assert client.calls == 3


async def test_retries_give_up_after_max_retries() -> None:
    client = _Flaky(failures=5, error=ccxt.RequestTimeout("timed out"))
    with pytest.raises(TransientError):
        await _session(client, max_retries=1).call("fetch_balance")
    assert client.calls == 2


async def test_rate_limits_are_not_retried_in_place() -> None:
    client = _Flaky(failures=1, error=ccxt.RateLimitExceeded("429"))
    with pytest.raises(RateLimited):
        await _session(client, max_retries=3).call("fetch_balance")
    assert client.calls == 1
