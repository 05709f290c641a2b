"""A consumer that reads, decodes and prepares the next batch while its handler stores this one.

A sink's round is Python work (read, decode, turn events into rows) followed by waiting for its
store (a database write and commit). ``ReadAheadConsumer`` starts the next round's read as soon as
the current batch is handed over, so that work runs while the store works instead of after it;
with ``prepare`` the sink can do its own part of the next batch too (``OrmSink.prepare``). The
handler is still called one batch at a time, in the order read, and every entry is acknowledged
only after the handler returned for the batch that holds it: nothing changes in what is stored or
acknowledged, only when the reading happens.

In hand at most: the batch being handled and the one read ahead. When the store fails every entry
(``TransientError``, ``StorageUnavailable``: the batch is held, see ``consumer``), the batch read
ahead joins the held one, and no further batch is read until the store is back, so a consumer
never holds more than two batches. Stopping finishes the batch read ahead before returning (its
entries are delivered to this consumer already), unless the store is failing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rex

from fullon_account_service.bus.batch import Delivery, Held, decode_parts
from fullon_account_service.bus.consumer import Consumer
from fullon_account_service.bus.reader import Rejected, StreamEntries
from fullon_account_service.bus.redis_errors import is_missing_group, translate
from fullon_account_service.errors import AccountServiceError
from fullon_account_service.logs import get_logger
from fullon_account_service.supervisor import TaskSupervisor

log = get_logger("bus")

Prepare = Callable[[Sequence[Delivery]], Awaitable[None]]
"""Called with a batch read ahead, before the handler gets that very list: work done here
overlaps the store of the batch before it. Must not store anything."""
Batch = tuple[list[StreamEntries], list[Delivery], list[Rejected]]


class ReadAheadConsumer(Consumer):
    def __init__(self, redis: aioredis.Redis, *, prepare: Prepare | None = None, **kwargs: Any) -> None:
        super().__init__(redis, **kwargs)
        self._prepare = prepare
        self._tasks = TaskSupervisor(f"read-ahead {kwargs.get('group')}")
        self._ahead: asyncio.Task[Batch] | None = None
        self._stopping = False

    async def run_once(self) -> int:
        try:
            return await self._round()
        except rex.RedisError as e:
            if is_missing_group(e):
                log.warning("consumer group missing, recreating", group=self._group)
                await self.ensure_groups()
                return 0
            raise translate(e, "consume") from e

    async def _round(self) -> int:
        held = self._handling.held
        if held is not None:
            await self._reader.touch(held.parts)
        if self._ahead is not None:
            ahead, self._ahead = self._ahead, None
            batch = await ahead
        else:
            room = self._batch_size - (len(held.deliveries) if held else 0)
            batch = await self._read(room, None if held else self._block_ms, prepare=False)
        self._handling.held = None
        accepted, deliveries, rejected = batch
        if held is not None:
            accepted, deliveries = held.parts + accepted, held.deliveries + deliveries
        if not deliveries and not rejected:
            return 0
        if held is None and not self._stopping:
            self._ahead = self._tasks.spawn(self._read(self._batch_size, self._block_ms), name="read ahead")
        try:
            return await self._handle(accepted, deliveries, rejected)
        finally:
            await self._join_held()

    async def _read(self, room: int, block_ms: int | None, *, prepare: bool = True) -> Batch:
        batch = decode_parts(await self._read_parts(room, block_ms))
        if prepare and self._prepare is not None and batch[1]:
            try:
                await self._prepare(batch[1])
            except Exception as e:  # preparing only saves the handler work: it never loses a batch
                log.warning("preparing a batch read ahead failed", group=self._group, error=repr(e))
        return batch

    async def _join_held(self) -> None:
        """The store failed every entry: the batch read ahead waits with the held one."""
        held = self._handling.held
        if self._ahead is None or held is None:
            return
        ahead, self._ahead = self._ahead, None
        accepted, deliveries, rejected = await ahead
        self._handling.held = Held(held.parts + accepted, held.deliveries + deliveries)
        if rejected:
            await self._settle([], rejected)

    async def run(self, stop: asyncio.Event) -> None:
        """As ``Consumer.run``; on stop, the batch read ahead is handled too."""
        try:
            await super().run(stop)
        finally:
            self._stopping = True
            if self._ahead is not None and self._handling.held is None:
                try:
                    await self.run_once()
                except AccountServiceError as e:
                    log.warning("batch read ahead left pending at stop", error=e)
            await self._tasks.cancel_all()
