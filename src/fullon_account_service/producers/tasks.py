"""Owned background tasks: named, kept in a set, failures logged by a done-callback; and
``supervised``, which runs one loop and restarts it (alone) when it fails."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fullon_account_service.logs import get_logger
from fullon_account_service.producers.backoff import Backoff
from fullon_account_service.redaction import redact_text

_log = get_logger("producers.tasks")


class TaskGroup:
    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._tasks: set[asyncio.Task[Any]] = set()

    def __bool__(self) -> bool:
        return bool(self._tasks)

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            _log.error("background task failed", owner=self._owner, task=task.get_name(), error=repr(error))

    async def cancel(self, task: asyncio.Task[Any]) -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


async def supervised(
    run: Callable[[], Awaitable[None]],
    backoff: Backoff,
    on_restart: Callable[[], None] = lambda: None,
    **context: Any,
) -> None:
    """Run ``run()`` until it returns; an exception is logged (with ``context``) and ``run`` is
    started again after the next backoff delay. Cancellation ends it."""
    while True:
        try:
            await run()
            return
        except Exception as e:
            delay = backoff.next()
            on_restart()
            _log.error(
                "loop failed; restarting it alone",
                delay_s=round(delay, 2),
                error=redact_text(f"{type(e).__name__}: {e}")[:300],
                **context,
            )
            await asyncio.sleep(delay)
