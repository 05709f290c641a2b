"""A Redis that restarted (or failed over) may have lost writes it had acknowledged.

With an append-only file synced every second, a killed Redis loses the last second of writes, and
under a slow disk Redis may answer a write before the file has it. A replica promoted in a
failover lacks what its master had not yet sent it. The producer cannot see which of its events
are gone, and its memories of what is already on the bus (``PublishedStates`` and each session's
``published_fills`` and ``published_ledger``) would keep it from sending them again: a re-read
would find them, and drop them as repeats.

So the producer compares the server's ``run_id`` (new on every start of a Redis process) with the
one it saw last; when it changed, it forgets both memories and asks every account for a full
reconciliation, which reads from the cursors (restored from the same Redis, so never ahead of the
events that survived) and publishes everything it finds. Sinks drop what they already stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import redis.asyncio as aioredis

from fullon_account_service.logs import get_logger
from fullon_account_service.producers.published_state import PublishedStates
from fullon_account_service.producers.session import AccountSession

_log = get_logger("producers.redis_restart")


def run_ids(info: Mapping[str, Any]) -> frozenset[str]:
    """The ``run_id`` of every server in an ``INFO server`` answer (one node, or a mapping of
    nodes to their answers)."""
    found = {str(info["run_id"])} if info.get("run_id") else set()
    for value in info.values():
        if isinstance(value, Mapping) and value.get("run_id"):
            found.add(str(value["run_id"]))
    return frozenset(found)


class RedisRestartWatch:
    def __init__(
        self,
        redis: aioredis.Redis,
        states: PublishedStates | None,
        sessions: Callable[[], Iterable[AccountSession]],
    ) -> None:
        self._redis = redis
        self._states = states
        self._sessions = sessions
        self._seen: frozenset[str] | None = None
        self.restarts = 0

    async def check(self) -> bool:
        """True when the server changed since the last check (and the memories were dropped).

        An unreachable Redis is no news here: the outbox retries and reports it."""
        try:
            info = await self._redis.info("server")
        except Exception:
            return False
        current = run_ids(info)
        if not current:
            return False
        previous, self._seen = self._seen, current
        if previous is None or current <= previous:
            return False
        self.restarts += 1
        if self._states is not None:
            self._states.forget_all()
        accounts = 0
        for session in self._sessions():
            session.published_fills.clear()
            session.published_ledger.clear()
            session.request_reconcile()
            accounts += 1
        _log.warning(
            "Redis restarted or failed over; it may have lost acknowledged events:"
            " every account is read again in full",
            accounts=accounts,
        )
        return True
