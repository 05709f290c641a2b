"""A restarted Redis may have lost acknowledged events: the producer forgets what it believed was
on the bus and reads every account again (``producers.redis_restart``)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from factories import envelope, fill, ledger_entry, order
from fullon_account_service.contract import Payload
from fullon_account_service.producers.published_ids import PublishedIds
from fullon_account_service.producers.published_state import PublishedStates
from fullon_account_service.producers.redis_restart import RedisRestartWatch, run_ids
from private_servers import free_port, redis_argv, start_redis

DEADLINE_S = 60.0


def remembered(payload: Payload) -> PublishedIds:
    ids = PublishedIds()
    ids.remember([envelope(payload)])
    return ids


@dataclass
class Session:
    """What the watch touches of an ``AccountSession``."""

    published_fills: PublishedIds = field(default_factory=lambda: remembered(fill("t-1")))
    published_ledger: PublishedIds = field(default_factory=lambda: remembered(ledger_entry("l-1")))
    reconciles: int = 0

    def request_reconcile(self) -> None:
        self.reconciles += 1


class Server:
    def __init__(self, run_id: str | None = "a") -> None:
        self.run_id = run_id
        self.down = False

    async def info(self, section: str) -> dict[str, Any]:
        assert section == "server"
        if self.down:
            raise ConnectionError("refused")
        return {} if self.run_id is None else {"run_id": self.run_id, "redis_version": "7.0"}


def watch(server: Any, sessions: list[Session], states: PublishedStates) -> RedisRestartWatch:
    return RedisRestartWatch(server, states, lambda: sessions)


async def test_a_new_run_id_forgets_what_was_published_and_reads_everything_again() -> None:
    server, sessions, states = Server("a"), [Session(), Session()], PublishedStates()
    opened = envelope(order("o-1"))
    assert states.fresh([opened]) == [opened]
    w = watch(server, sessions, states)
    assert not await w.check()  # the first sight only learns the server
    assert not await w.check()
    assert states.fresh([opened]) == []
    assert all(s.reconciles == 0 and len(s.published_fills) == len(s.published_ledger) == 1 for s in sessions)

    server.run_id = "b"
    assert await w.check()
    assert states.fresh([opened]) == [opened]
    assert all(s.reconciles == 1 and not s.published_fills and not s.published_ledger for s in sessions)
    assert not await w.check()
    assert w.restarts == 1


async def test_an_unreachable_or_silent_server_is_no_restart() -> None:
    server, sessions = Server("a"), [Session()]
    w = watch(server, sessions, PublishedStates())
    await w.check()
    server.down = True
    assert not await w.check()
    server.down, server.run_id = False, None
    assert not await w.check()
    server.run_id = "a"
    assert not await w.check()
    assert sessions[0].reconciles == 0


def test_run_ids_of_one_node_and_of_a_cluster() -> None:
    assert run_ids({"run_id": "x", "tcp_port": 1}) == {"x"}
    assert run_ids({"n1:1": {"run_id": "x"}, "n2:2": {"run_id": "y"}}) == {"x", "y"}
    assert run_ids({"redis_version": "7"}) == frozenset()


@pytest.mark.once
async def test_a_killed_and_restarted_redis_server_is_seen(tmp_path: Path) -> None:
    assert shutil.which("redis-server") is not None, "this test needs redis-server on PATH"
    port = free_port()
    argv = redis_argv(port, tmp_path)
    client = aioredis.Redis.from_url(f"redis://127.0.0.1:{port}/0")
    proc = await start_redis(argv, timeout_s=DEADLINE_S)
    sessions = [Session()]
    try:
        w = RedisRestartWatch(client, PublishedStates(), lambda: sessions)
        assert not await w.check()
        proc.kill()
        await proc.wait()
        assert not await w.check()  # down: nothing to compare yet
        proc = await start_redis(argv, timeout_s=DEADLINE_S)
        assert await w.check()
        assert sessions[0].reconciles == 1
    finally:
        await client.aclose()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
