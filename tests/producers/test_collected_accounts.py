"""The wait for named accounts: it ends when all are collected, waits again for one whose lease
was lost, and ends (``False``) when the daemon stops; a restarted daemon is waited on anew."""

from __future__ import annotations

import asyncio

from fullon_account_service.producers.collected import CollectedAccounts


async def _pending(wait: asyncio.Task[bool]) -> bool:
    """Whether ``wait`` is still waiting once everything ready to run has run."""
    for _ in range(5):
        await asyncio.sleep(0)
    return not wait.done()


async def test_the_wait_ends_once_every_named_account_is_collected() -> None:
    collected = CollectedAccounts()
    async with asyncio.TaskGroup() as tasks:
        wait = tasks.create_task(collected.wait([1, 2]))
        collected.add(1)
        collected.add(3)
        assert await _pending(wait)
        collected.add(2)
        assert await wait is True
    assert collected.ex_ids == {1, 2, 3}


async def test_an_account_whose_lease_is_lost_is_waited_for_again() -> None:
    collected = CollectedAccounts()
    collected.add(1)
    collected.add(2)
    collected.discard(2)
    async with asyncio.TaskGroup() as tasks:
        wait = tasks.create_task(collected.wait([1, 2]))
        assert await _pending(wait)
        collected.add(2)
        assert await wait is True


async def test_a_stop_ends_the_wait_and_a_restart_waits_anew() -> None:
    collected = CollectedAccounts()
    collected.add(1)
    async with asyncio.TaskGroup() as tasks:
        wait = tasks.create_task(collected.wait([1, 2]))
        assert await _pending(wait)
        collected.close()
        assert await wait is False
    assert collected.ex_ids == frozenset()
    assert await collected.wait([1]) is False, "a stopped daemon collects nothing"
    collected.reopen()
    collected.add(1)
    assert await collected.wait([1]) is True
