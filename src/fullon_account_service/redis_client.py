"""The one place a Redis client is built; everything else takes it as an argument.

With ``REDIS_URL`` unset the service is embedded: every client built in this process shares one
in-memory fakeredis server, so producers and sinks started in one process see the same streams.
fakeredis (and the numpy it pulls in) is imported only then: it costs most of a second.

With ``ACCOUNT_REDIS_CLUSTER=true``, ``REDIS_URL`` names any node of a Redis Cluster and the client
is redis-py's ``RedisCluster``, which finds the others and follows slot moves and failovers. It
answers the same commands as a single-node client, so it is handed around under that type; the
few places where the two differ (a command or transaction over keys of several slots) ask
``is_cluster``.

``twin`` builds another client to the server an existing client talks to (the same fakeredis
server when embedded), for a thread with an event loop of its own: a client's connections belong
to the loop they were opened on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import SSLConnection

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


def is_cluster(redis: object) -> bool:
    """Whether ``redis`` talks to a Redis Cluster: keys of different slots cannot share a command,
    a script or a MULTI there."""
    return isinstance(redis, RedisCluster)


def cluster_client(url: str) -> aioredis.Redis:
    """A cluster client from the URL of any of its nodes, typed as the single-node client."""
    client = RedisCluster.from_url(url, health_check_interval=30, socket_keepalive=True)
    return cast("aioredis.Redis", client)


_CLUSTER_OWN_KWARGS = ("connection_class", "redis_connect_func", "response_callbacks")
"""Connection settings a cluster client derives itself (from ``ssl``, its callbacks)."""


def twin(redis: aioredis.Redis) -> aioredis.Redis:
    """A new client, with no connection yet, to the server (or cluster) ``redis`` talks to, with
    the same connection settings."""
    if is_cluster(redis):
        cluster = cast("RedisCluster", redis)
        known = {**cluster.nodes_manager.startup_nodes, **{n.name: n for n in cluster.get_nodes()}}
        kwargs = {k: v for k, v in cluster.connection_kwargs.items() if k not in _CLUSTER_OWN_KWARGS}
        ssl = issubclass(cluster.connection_kwargs["connection_class"], SSLConnection)
        nodes = [ClusterNode(node.host, node.port) for node in known.values()]
        return cast("aioredis.Redis", RedisCluster(startup_nodes=nodes, ssl=ssl, **kwargs))
    pool = redis.connection_pool
    return aioredis.Redis.from_pool(
        type(pool)(connection_class=pool.connection_class, **pool.connection_kwargs)
    )


def make_redis(settings: Settings) -> aioredis.Redis:
    if settings.redis_url is None:
        import fakeredis

        client: aioredis.Redis = fakeredis.FakeAsyncRedis(server=embedded_server())
        return client
    if settings.redis_cluster:
        return cluster_client(settings.redis_url)
    real: aioredis.Redis = aioredis.Redis.from_url(
        settings.redis_url, health_check_interval=30, socket_keepalive=True
    )
    return real
