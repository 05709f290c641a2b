"""Owned background tasks: the one place in ``src`` that calls ``asyncio.create_task``.

A ``TaskSupervisor`` names each task, keeps it in a set (so it is never garbage-collected while
running) and logs its failure from a done-callback; one failing task does not cancel its
siblings. That is why it is not ``asyncio.TaskGroup``, which cancels every task when one fails:
here a crashed account loop must not stop the others. Used as ``async with``, it cancels what is
still running on exit, for tasks scoped to one block (a socket's ticker, a LISTEN connection).

``restarting`` runs one loop and starts it again (alone) after the retry policy's delay when it
fails (tests: ``tests/test_owned_tasks.py`` fails on a ``create_task`` anywhere else).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any

from fullon_account_service.logs import get_logger
from fullon_account_service.redaction import redact_text
from fullon_account_service.retry import Attempts

_log = get_logger("supervisor")


class TaskSupervisor:
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

    async def join(self) -> None:
        """Wait for every task to end by itself (after the caller told them to stop)."""
        tasks = list(self._tasks)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> TaskSupervisor:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.cancel_all()


async def restarting(
    run: Callable[[], Awaitable[None]],
    attempts: Attempts,
    on_restart: Callable[[], None] = lambda: None,
    **context: Any,
) -> None:
    """Run ``run()`` until it returns; an exception is logged (with ``context``) and ``run`` is
    started again after the next delay of ``attempts``. Cancellation ends it."""
    while True:
        try:
            await run()
            return
        except Exception as e:
            delay = attempts.next()
            on_restart()
            _log.error(
                "loop failed; restarting it alone",
                delay_s=round(delay, 2),
                error=redact_text(f"{type(e).__name__}: {e}")[:300],
                **context,
            )
            await asyncio.sleep(delay)
