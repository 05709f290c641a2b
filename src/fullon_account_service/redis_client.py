"""The one place a Redis client is built; everything else takes it as an argument.

With ``REDIS_URL`` unset the service is embedded: every client built in this process shares one
in-memory fakeredis server, so producers and sinks started in one process see the same streams.
"""

from __future__ import annotations

import fakeredis
import redis.asyncio as aioredis

from fullon_account_service.settings import Settings

_embedded_server: fakeredis.FakeServer | None = None


def embedded_server() -> fakeredis.FakeServer:
    global _embedded_server
    if _embedded_server is None:
        _embedded_server = fakeredis.FakeServer()
    return _embedded_server


def make_redis(settings: Settings) -> aioredis.Redis:
    if settings.redis_url is None:
        client: aioredis.Redis = fakeredis.FakeAsyncRedis(server=embedded_server())
        return client
    real: aioredis.Redis = aioredis.Redis.from_url(
        settings.redis_url, health_check_interval=30, socket_keepalive=True
    )
    return real
