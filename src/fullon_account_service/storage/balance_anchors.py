"""Balance anchors: the recent history of each account's balance totals, for ``ledger.explain``.

The cache keeps only the latest balance; explaining a balance change needs the totals at two
moments. The cache sink, which already receives every balance event, records each currency's
total with the event's time (the venue's ``exchange_ms``, else the receive time) here:

- ZSET ``{prefix}anchors:{ex_id}``, score the time in ms, member ``[currency, time_ms, total]``
  as JSON; the newest ``MAX_ANCHORS`` per account are kept (older ones trimmed on each write).

Redis rather than a table: the anchors are a bounded, recent working set like the cache beside
them, written in the sink that owns balances, with no schema migration; a redelivered event adds
the same member again (a no-op). A currency reported without a total (unknown) is no anchor.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping

import redis.asyncio as aioredis

from fullon_account_service.bus.redis_errors import REDIS_ERRORS, translate
from fullon_account_service.ledger.explain import Anchor

MAX_ANCHORS = 20_000
"""Per account: at one balance event a second, the last few hours of history."""

Totals = Mapping[str, float | None]


def anchors_key(prefix: str, ex_id: int) -> str:
    return f"{prefix}anchors:{ex_id}"


class BalanceAnchors:
    def __init__(self, redis: aioredis.Redis, *, prefix: str, max_anchors: int = MAX_ANCHORS) -> None:
        self._redis = redis
        self._prefix = prefix
        self._max = max_anchors

    async def record(self, snapshots: Iterable[tuple[int, int, Totals]]) -> None:
        """``(ex_id, time_ms, {currency: total})`` per balance event, in one round trip."""
        members: dict[int, dict[str, int]] = defaultdict(dict)
        for ex_id, time_ms, totals in snapshots:
            for currency, total in totals.items():
                if total is not None:
                    members[ex_id][json.dumps([currency, time_ms, total])] = time_ms
        if not members:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for ex_id, mapping in members.items():
                    key = anchors_key(self._prefix, ex_id)
                    pipe.zadd(key, mapping)
                    pipe.zremrangebyrank(key, 0, -self._max - 1)
                await pipe.execute()
        except REDIS_ERRORS as e:
            raise translate(e, "write balance anchors") from e

    async def read(self, ex_id: int) -> dict[str, list[Anchor]]:
        """Each currency's anchors, oldest first."""
        try:
            raw = await self._redis.zrange(anchors_key(self._prefix, ex_id), 0, -1)
        except REDIS_ERRORS as e:
            raise translate(e, "read balance anchors") from e
        anchors: dict[str, list[Anchor]] = defaultdict(list)
        for member in raw:
            currency, time_ms, total = json.loads(member)
            anchors[str(currency)].append(Anchor(int(time_ms), float(total)))
        return dict(anchors)

    async def accounts(self) -> list[int]:
        """The ex_ids with anchors."""
        pattern = anchors_key(self._prefix, 0).removesuffix("0") + "*"
        try:
            keys = [key async for key in self._redis.scan_iter(match=pattern, count=500)]
        except REDIS_ERRORS as e:
            raise translate(e, "list balance anchors") from e
        ids = (k.decode() if isinstance(k, bytes) else str(k) for k in keys)
        return sorted(int(tail) for key in ids if (tail := key.rpartition(":")[2]).isdigit())
