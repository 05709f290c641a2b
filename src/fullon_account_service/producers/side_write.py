"""A Redis write that rides in the outbox's pipeline ahead of the events queued after it.

The open-order book's record of a new order used to be a round trip of its own before the order's
events were queued; sent in the publish pipeline it costs no round trip, and it still precedes
those events (Redis runs a pipeline's commands in order). The outbox tells the write how it went:
``written`` once the pipeline that carried it succeeded, ``failed`` each time one failed (it stays
queued and goes again with the retry). On a Redis Cluster the pipeline is split per node, so a
write and the events after it on another node are ordered only by the retry: a producer killed
between the two nodes' answers may leave events on the bus whose write did not land.
"""

from __future__ import annotations

from typing import Protocol

import redis.asyncio as aioredis


class SideWrite(Protocol):
    def queue(self, pipe: aioredis.client.Pipeline) -> None:
        """Add the write's commands to ``pipe``."""

    def written(self) -> None:
        """The pipeline that carried the write succeeded."""

    def failed(self) -> None:
        """A pipeline that carried the write failed; it goes again with the retry."""
