"""Turns redis-py errors into our error tree at the bus boundary.

Outages, timeouts and a server that is loading, read-only or out of memory pass with time, so
they are transient, as are a cluster's failover replies (a slot moving, a blocked read the
failover ended); a server refusing every write (an ACL without the permission, a failed
snapshot stopping writes) is ``StorageUnavailable``, for an operator to fix; any other error reply
(wrong type, syntax) means our code or the data is wrong and retrying cannot help.

redis-py's cluster client raises some errors outside ``RedisError``: ``RedisClusterException``
when it cannot map the cluster (mid-failover the nodes disagree on the slots, a slot has no
master, no node answers) or cannot route a command (keys of several slots: our bug). Catch
``REDIS_ERRORS``, not ``RedisError`` alone, where a cluster client can be used.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rex

from fullon_account_service.errors import (
    AccountServiceError,
    FatalError,
    StorageUnavailable,
    TransientError,
)
from fullon_account_service.redaction import redact_text

_TRANSIENT_REPLIES = (
    "OOM",
    "LOADING",
    "READONLY",
    "MASTERDOWN",
    "BUSY ",
    "TRYAGAIN",
    "CLUSTERDOWN",
    "UNBLOCKED",
)
_CLUSTER_MOVES = (rex.AskError, rex.TryAgainError, rex.ClusterError, rex.MasterDownError)
"""Raised when redis-py's cluster client ran out of its own retries around a failover."""
_UNAVAILABLE_REPLIES = ("NOPERM", "MISCONF")
_CLUSTER_UNMAPPED = ("cannot be connected", "not covered", "could not agree")
"""What redis-py's cluster client says when it cannot map the cluster (a failover, an outage)."""

REDIS_ERRORS = (rex.RedisError, rex.RedisClusterException)
"""Every error redis-py raises for the server or the cluster: what ``translate`` takes."""


def translate(err: rex.RedisError | rex.RedisClusterException, action: str) -> AccountServiceError:
    message = redact_text(f"redis {action} failed: {type(err).__name__}: {err}")
    if isinstance(err, rex.RedisClusterException):
        unmapped = isinstance(err, rex.SlotNotCoveredError) or any(s in str(err) for s in _CLUSTER_UNMAPPED)
        return TransientError(message) if unmapped else FatalError(message)
    if isinstance(err, rex.NoPermissionError) or str(err).startswith(_UNAVAILABLE_REPLIES):
        return StorageUnavailable(message)
    if isinstance(err, _CLUSTER_MOVES):
        return TransientError(message)
    if isinstance(err, rex.ResponseError) and not str(err).startswith(_TRANSIENT_REPLIES):
        return FatalError(message)
    return TransientError(message)


def is_missing_group(err: rex.RedisError | rex.RedisClusterException) -> bool:
    """A stream or group that vanished (FLUSHDB, a deleted key): recreate the groups and go on."""
    return isinstance(err, rex.ResponseError) and str(err).startswith("NOGROUP")


async def execute(pipe: aioredis.client.Pipeline) -> list[Any]:
    """Run a pipeline and raise its first error as the server sent it.

    redis-py rewrites a pipelined command's error into "Command # n ... caused error" and loses the
    server's text on the way, which is what tells a missing group from any other failure.
    """
    replies: list[Any] = await pipe.execute(raise_on_error=False)
    for reply in replies:
        if isinstance(reply, rex.RedisError):
            raise reply
    return replies
