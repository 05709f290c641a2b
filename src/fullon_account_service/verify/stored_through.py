"""Up to when an account's fills and ledger entries are surely stored: the end of what can be explained.

A window of ``ledger.explain`` ending at ``t1`` is judged only once every fill and ledger entry
dated up to ``t1`` is in the database; otherwise a fill still on its way would read as missing.
How we know, per history (fills; ledger entries where the producer collects them):

1. the producer's history cursor (``producers.cursor``: ``{prefix}cursor:{ex_id}`` for fills,
   ``{prefix}ledger_cursor:{ex_id}`` for ledger entries) moves to ``c`` only after every row dated
   up to ``c`` was published (a WebSocket row before, a REST row by the read that moves it);
2. so once ``c`` is read, those rows are in the stream at or below its last entry id ``L``, read
   after it;
3. the ``orm`` group acknowledges an entry only after its transaction committed: when its last
   delivered id is at least ``L`` and no entry at or below ``L`` is pending, every row up to ``c``
   is stored (or dead-lettered, which the explanation rightly reports as missing).

The answer is the smallest ``c`` over the histories that have a cursor; ``None`` when the fill
cursor is missing or the group has not stored up to ``L`` yet. A history without a cursor (a
venue whose ledger the producer does not read) bounds nothing.

The stream read is the account's partition (``bus.streams.account_stream_key``, with the
``ACCOUNT_STREAM_PARTITIONS`` the producers and sinks use): with more than one partition the
plain ``{prefix}trade`` stream is written by nobody, and reading it would judge every window at
once. Only that partition counts: another account's backlog elsewhere holds nothing back.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from fullon_account_service.bus.redis_errors import REDIS_ERRORS, translate
from fullon_account_service.bus.streams import account_stream_key, parse_id
from fullon_account_service.producers.cursor import CursorStore
from fullon_account_service.sinks.groups import ORM as GROUP

LEDGER_CURSOR = "ledger_cursor"
HISTORIES = (("trade", "cursor"), ("ledger", LEDGER_CURSOR))
"""(stream kind, cursor name) of each history a balance change comes from."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def _group_stored_up_to(redis: aioredis.Redis, stream: str) -> bool:
    """Whether the orm group has stored every entry the stream holds now."""
    if not await redis.exists(stream):
        return True
    last = parse_id(_text((await redis.xinfo_stream(stream))["last-generated-id"]))
    groups = {_text(g["name"]): g for g in await redis.xinfo_groups(stream)}
    group = groups.get(GROUP)
    if group is None or parse_id(_text(group["last-delivered-id"])) < last:
        return False
    if int(group["pending"]) == 0:
        return True
    summary = await redis.xpending(stream, GROUP)
    return parse_id(_text(summary["min"])) > last


async def stored_through_ms(redis: aioredis.Redis, prefix: str, ex_id: int, *, partitions: int) -> int | None:
    """The time up to which ``ex_id``'s fills and ledger entries are all stored (see above);
    ``partitions``: the streams per kind the producers write (``Settings.stream_partitions``)."""
    bounds: list[int] = []
    cursors = CursorStore(redis, prefix=prefix)
    for kind, name in HISTORIES:
        cursor = await cursors.named(name).get(ex_id)
        if cursor is None:
            if kind == "trade":
                return None
            continue
        try:
            stored = await _group_stored_up_to(redis, account_stream_key(prefix, kind, ex_id, partitions))
        except REDIS_ERRORS as e:
            raise translate(e, f"read the {kind} stream's progress") from e
        if not stored:
            return None
        bounds.append(cursor)
    return min(bounds)


async def ledger_collected(redis: aioredis.Redis, prefix: str, ex_id: int) -> bool:
    """Whether the producer reads ``ex_id``'s ledger (its ledger cursor exists): without it a
    deposit or a funding payment is unexplained by design, not lost."""
    return await CursorStore(redis, prefix=prefix).named(LEDGER_CURSOR).get(ex_id) is not None
