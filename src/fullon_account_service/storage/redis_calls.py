"""redis-py types hash and string commands as ``Awaitable[T] | T`` (one signature for the sync and
async clients); ``awaited`` narrows that to ``T`` on our async clients without a cast per call."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def awaited(value: Awaitable[T] | T) -> T:
    if inspect.isawaitable(value):
        return await value
    return value
