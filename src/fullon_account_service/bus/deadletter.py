"""The dead-letter stream: where entries go that no retry will fix.

A dead letter keeps the original bytes untouched, so an operator can read the event with
``fullon-account dlq show`` (or ``tail --dlq``), fix the cause and put it back on its stream with
``fullon-account dlq replay``. The reason is redacted first: it is often an exception message, and
those may quote a request with credentials in it. It is also kept to one line (line breaks and
other control characters it quotes from the bad input are escaped), so a log line or
``tail --dlq`` row shows the whole reason and nothing the input smuggled in.

The stream is never capped or trimmed: a letter leaves it only when an operator replays or drops
it (``bus.dlq_ops``). Its length is a metric and ``health`` warns while it is not empty.
"""

from __future__ import annotations

import re
import time

import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT

from fullon_account_service.bus.redis_errors import REDIS_ERRORS, translate
from fullon_account_service.bus.streams import dead_letter_key
from fullon_account_service.redaction import redact_text

MAX_REASON_CHARS = 2_000
_BREAKS = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")


def one_line(text: str) -> str:
    """``text`` with line breaks and control characters escaped (``\\n``, ``\\x1b``...)."""
    return _BREAKS.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


def dead_letter_fields(
    *, reason: str, payload: bytes, stream: str, entry_id: str, group: str, consumer: str
) -> dict[FieldT, EncodableT]:
    return {
        b"reason": one_line(redact_text(reason))[:MAX_REASON_CHARS].encode(),
        b"stream": stream.encode(),
        b"entry_id": entry_id.encode(),
        b"group": group.encode(),
        b"consumer": consumer.encode(),
        b"time_ms": str(int(time.time() * 1000)).encode(),
        b"payload": payload,
    }


async def dead_letter(
    redis: aioredis.Redis,
    *,
    prefix: str,
    reason: str,
    payload: bytes,
    stream: str = "",
    entry_id: str = "",
    group: str = "",
    consumer: str = "",
) -> str:
    fields = dead_letter_fields(
        reason=reason, payload=payload, stream=stream, entry_id=entry_id, group=group, consumer=consumer
    )
    try:
        new_id: bytes = await redis.xadd(dead_letter_key(prefix), fields)
    except REDIS_ERRORS as e:
        raise translate(e, "dead-letter") from e
    return new_id.decode()
