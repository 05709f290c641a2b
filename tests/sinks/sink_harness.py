"""Runs one sink in a subprocess for the crash tests; not a test module.

``SINK_KILL_AFTER_BATCHES=N`` SIGKILLs the process right after the N-th batch was committed and
before the consumer acknowledges it: the worst moment to die. SIGTERM stops it cleanly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from fullon_account_service.bus.consumer import Delivery, Handler
from fullon_account_service.settings import Settings
from fullon_account_service.sinks.runner import run_sink


def killer(after: int) -> Handler:
    def wrap(handler: Handler) -> Handler:
        done = 0

        async def handle(batch: Sequence[Delivery]) -> None:
            nonlocal done
            await handler(batch)
            done += 1
            if done == after:
                os.kill(os.getpid(), signal.SIGKILL)

        return handle

    return wrap  # type: ignore[return-value]


async def main(group: str, consumer: str) -> None:
    settings = Settings.from_env()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    after = int(os.environ.get("SINK_KILL_AFTER_BATCHES", "0"))
    # fakeredis' TCP server hangs up after every error reply (BUSYGROUP on restart is one):
    # reconnect and retry instead of treating that as an outage.
    redis = aioredis.Redis.from_url(
        os.environ["REDIS_URL"], retry=Retry(NoBackoff(), 3), retry_on_error=[RedisConnectionError]
    )
    try:
        await run_sink(settings, group, consumer, redis, stop, wrap=killer(after) if after else None)
    finally:
        await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
