"""The consumer most bus and sink tests build: group ``g``, consumer ``c``, the trade stream.

Tests name only the options they are about (``block_ms``, ``claim_idle_ms``, ``retry``, ...).
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from fullon_account_service.bus import Consumer
from fullon_account_service.bus.batch import Handler


def trade_consumer(redis: aioredis.Redis, prefix: str, handler: Handler, **options: Any) -> Consumer:
    return Consumer(
        redis, prefix=prefix, group="g", consumer="c", kinds=["trade"], handler=handler, **options
    )
