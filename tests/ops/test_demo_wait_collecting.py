"""The demo starts trading only once the producer collects every account (cold starts are slow)."""

from __future__ import annotations

import asyncio

from fullon_account_service.demo.run import wait_collecting


async def test_waits_until_every_account_is_collected() -> None:
    collected: dict[int, object] = {}

    async def producer_takes_its_time() -> None:
        for ex_id in (1, 2, 3):
            for _ in range(3):
                await asyncio.sleep(0)
            collected[ex_id] = object()

    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(producer_takes_its_time())
        assert await wait_collecting(lambda: collected, [1, 2, 3], timeout_s=60)
        assert set(collected) == {1, 2, 3}


async def test_says_so_when_an_account_never_comes() -> None:
    assert not await wait_collecting(lambda: {1: object()}, [1, 2], timeout_s=0.2)
