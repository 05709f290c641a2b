"""The one place a Redis client is built; everything else takes it as an argument.

With ``REDIS_URL`` unset the service is embedded: every client built in this process shares one
in-memory fakeredis server, so producers and sinks started in one process see the same streams.
fakeredis (and the numpy it pulls in) is imported only then: it costs most of a second.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import redis.asyncio as aioredis

from fullon_account_service.settings import Settings

if TYPE_CHECKING:
    import fakeredis

_embedded_server: fakeredis.FakeServer | None = None


def embedded_server() -> fakeredis.FakeServer:
    import fakeredis

    global _embedded_server
    if _embedded_server is None:
        _embedded_server = fakeredis.FakeServer()
    return _embedded_server


def make_redis(settings: Settings) -> aioredis.Redis:
    if settings.redis_url is None:
        import fakeredis

        client: aioredis.Redis = fakeredis.FakeAsyncRedis(server=embedded_server())
        return client
    real: aioredis.Redis = aioredis.Redis.from_url(
        settings.redis_url, health_check_interval=30, socket_keepalive=True
    )
    return real
