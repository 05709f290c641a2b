"""After the scenario stops: let the books catch up, then compare them with the ground truth.

Caught up means, for every account, a full REST reconciliation has run since the engine stopped
(so nothing a stream missed is left out), the producer's outbox is empty, and every consumer
group has neither lag nor pending entries. Then the books are compared; if they differ, another
reconciliation is asked for and the wait goes on, up to ``timeout_s``, because a fill stored a
moment before its order's last update is lateness, not loss. Past the deadline the comparison is
taken as it stands.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass

import redis.asyncio as aioredis

from fullon_account_service.health import read_groups
from fullon_account_service.producers.context import ProducerContext
from fullon_account_service.verify.compare import BooksComparison

Verify = Callable[[], Awaitable[BooksComparison]]
CYCLES_FOR_A_FULL_READ = 2
"""The cycle in flight when reconciliation is asked for may predate the request; the next reads all."""


@dataclass(frozen=True, slots=True)
class Settled:
    comparison: BooksComparison
    caught_up: bool
    """False when the deadline passed (or the wait was cut short) before the books caught up."""
    waited_s: float
    note: str = ""
    """Why the books did not catch up: ``deadline reached`` or ``cut short``."""


class Settler:
    def __init__(
        self,
        *,
        context: ProducerContext,
        cycles: Callable[[], Mapping[int, int]],
        ex_ids: Collection[int],
        redis: aioredis.Redis,
        prefix: str,
        partitions: int,
        verify: Verify,
        every_s: float = 0.25,
    ) -> None:
        self._ctx = context
        self._cycles = cycles
        self._ex_ids = list(ex_ids)
        self._redis = redis
        self._prefix = prefix
        self._partitions = partitions
        self._verify = verify
        self._every_s = every_s
        self._wanted: dict[int, int] = {}

    def request_reconciliation(self) -> None:
        cycles = self._cycles()
        for ex_id in self._ex_ids:
            session = self._ctx.registry.get(ex_id)
            if session is not None:
                session.request_reconcile()
            self._wanted[ex_id] = cycles.get(ex_id, 0) + CYCLES_FOR_A_FULL_READ

    def reconciled(self) -> bool:
        cycles = self._cycles()
        return all(cycles.get(ex_id, 0) >= wanted for ex_id, wanted in self._wanted.items())

    async def drained(self) -> bool:
        if self._ctx.outbox.pending:
            return False
        groups = await read_groups(self._redis, self._prefix, self._partitions)
        return all(g.lag == 0 and g.pending == 0 for g in groups)

    async def settle(self, timeout_s: float, abort: asyncio.Event | None = None) -> Settled:
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.request_reconciliation()
        try:
            async with asyncio.timeout(timeout_s):
                while abort is None or not abort.is_set():
                    if self.reconciled() and await self.drained():
                        comparison = await self._verify()
                        if comparison.equal:
                            return Settled(comparison, True, loop.time() - started)
                        self.request_reconciliation()
                    await asyncio.sleep(self._every_s)
        except TimeoutError:
            note = "deadline reached"
        else:
            note = "cut short"
        return Settled(await self._verify(), False, loop.time() - started, note)
