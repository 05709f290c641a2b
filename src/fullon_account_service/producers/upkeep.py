"""The daemon's background loops, one set per daemon whether it runs all accounts or one.

- The ProcessCache heartbeat (``heartbeat``), which also reports each account's fence (the lease
  token its writes carry, from ``CursorStore.fences``).
- The supervisor: every ``interval_s`` it restarts the loops of accounts that died (through the
  daemon's ``restart_dead``) and checks whether Redis restarted or failed over
  (``redis_restart``); when it did, every account is read again in full. It also applies the
  time bounds of each account's order facts (``Normaliser.expire``), which otherwise wait for the
  account's next order row: at rest, for ever.
- The heap trimmer (``heap_trim``), which hands freed C heap back to the system every
  ``heap_trim_s``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fullon_account_service.logs import get_logger
from fullon_account_service.producers.context import ProducerContext
from fullon_account_service.producers.heap_trim import trim_heap_every
from fullon_account_service.producers.heartbeat import Heartbeat
from fullon_account_service.producers.redis_restart import RedisRestartWatch
from fullon_account_service.storage.process_cache import ProcessCache
from fullon_account_service.supervisor import TaskSupervisor

_log = get_logger("daemon")


class Upkeep:
    def __init__(self, context: ProducerContext, *, interval_s: float, heap_trim_s: float) -> None:
        self.heartbeat = Heartbeat(ProcessCache(context.redis), context, fences=context.cursors.fences)
        self.restart_watch = RedisRestartWatch(
            context.redis, context.outbox.states, context.registry.sessions
        )
        self._registry = context.registry
        self._interval_s = interval_s
        self._heap_trim_s = heap_trim_s
        self._started = False

    def start(
        self, tasks: TaskSupervisor, stop: asyncio.Event, restart_dead: Callable[[], Awaitable[None]]
    ) -> None:
        """Spawn the loops, once: a second call (another single account) is a no-op."""
        if self._started:
            return
        self._started = True
        tasks.spawn(self.heartbeat.run(stop), name="daemon-heartbeat")
        tasks.spawn(self._supervise(stop, restart_dead), name="daemon-supervisor")
        tasks.spawn(trim_heap_every(self._heap_trim_s, stop), name="daemon-heap-trim")

    async def _supervise(self, stop: asyncio.Event, restart_dead: Callable[[], Awaitable[None]]) -> None:
        while not stop.is_set():
            await self.restart_watch.check()
            try:
                async with asyncio.timeout(self._interval_s):
                    await stop.wait()
                return
            except TimeoutError:
                pass
            await restart_dead()
            for session in self._registry.sessions():
                session.normaliser.expire()

    async def unregister(self, ex_ids: list[int], drain_s: float) -> None:
        """Mark these accounts stopped in ProcessCache (shutdown); entries Redis does not take
        within ``drain_s`` age out by themselves."""
        try:
            async with asyncio.timeout(drain_s):
                await asyncio.gather(*(self.heartbeat.unregister(ex_id) for ex_id in ex_ids))
        except TimeoutError:
            _log.warning("ProcessCache not updated at shutdown; entries age out")
