"""Reading, replaying and dropping dead letters: what ``fullon-account dlq`` does, without the CLI.

A letter is read as ``bus.deadletter`` wrote it (reason, origin stream and entry id, group,
consumer, time, original payload bytes). Filters select by reason substring (case-insensitive),
kind, ex_id and dead-letter id range; kind and ex_id come from the payload when it decodes, and
kind from the origin stream's name when it does not.

Replay puts the original bytes back on the stream of their account's events, as a new entry, and
removes the letter only once that XADD succeeded (XADD, then XDEL of exactly the letters
re-published): a crash in between leaves the letter as well as the new entry, a duplicate the
sinks store once, never a loss. That stream is the one the letter came from while
``ACCOUNT_STREAM_PARTITIONS`` is unchanged; after a change it is the account's partition now
(``bus.streams.account_stream_key``), since the old one may be read by no sink any more. A payload
that no longer decodes goes back where it came from. Only letters from one of this prefix's event
streams (any partition) are replayed; the others (a producer's raw payloads that never became
events) are skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT

from fullon_account_service.bus.redis_errors import REDIS_ERRORS, execute, translate
from fullon_account_service.bus.streams import (
    ENTRY_FIELD,
    account_stream_key,
    dead_letter_key,
    kind_of_stream,
    next_id,
)
from fullon_account_service.contract import Envelope, decode
from fullon_account_service.errors import ContractError

PAGE = 500


@dataclass(frozen=True, slots=True)
class Letter:
    letter_id: str
    reason: str
    stream: str
    entry_id: str
    group: str
    consumer: str
    time_ms: int | None
    payload: bytes
    envelope: Envelope | None
    kind: str | None
    undecodable: str | None
    """Why the payload does not decode now (``None`` when it does)."""

    @property
    def ex_id(self) -> int | None:
        return None if self.envelope is None else self.envelope.ex_id


@dataclass(frozen=True, slots=True)
class LetterFilter:
    reason: str | None = None
    kinds: frozenset[str] = frozenset()
    ex_ids: frozenset[int] = frozenset()
    start: str = "-"
    end: str = "+"

    @property
    def narrows(self) -> bool:
        """Whether it selects anything less than every letter."""
        return bool(self.reason or self.kinds or self.ex_ids or self.start != "-" or self.end != "+")

    def accepts(self, letter: Letter) -> bool:
        if self.reason and self.reason.lower() not in letter.reason.lower():
            return False
        if self.kinds and letter.kind not in self.kinds:
            return False
        return not self.ex_ids or letter.ex_id in self.ex_ids


@dataclass(slots=True)
class ReplayResult:
    replayed: list[tuple[str, str, str]] = field(default_factory=list)
    """(letter id, stream, new entry id) of each letter re-published and removed."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(letter id, why) of each letter left in place."""


def _text(fields: dict[bytes, bytes], name: bytes) -> str:
    return fields.get(name, b"").decode(errors="replace")


def letter_of(prefix: str, letter_id: str, fields: dict[bytes, bytes]) -> Letter:
    payload = fields.get(b"payload", b"")
    stream = _text(fields, b"stream")
    envelope: Envelope | None = None
    undecodable: str | None = None
    try:
        envelope = decode(payload)
    except ContractError as e:
        undecodable = str(e)
    kind = envelope.kind if envelope is not None else kind_of_stream(prefix, stream)
    time_ms = _text(fields, b"time_ms")
    return Letter(
        letter_id=letter_id,
        reason=_text(fields, b"reason"),
        stream=stream,
        entry_id=_text(fields, b"entry_id"),
        group=_text(fields, b"group"),
        consumer=_text(fields, b"consumer"),
        time_ms=int(time_ms) if time_ms.isdigit() else None,
        payload=payload,
        envelope=envelope,
        kind=kind,
        undecodable=undecodable,
    )


async def read_letters(
    redis: aioredis.Redis, prefix: str, selection: LetterFilter, limit: int | None = None
) -> list[Letter]:
    """Letters the filter accepts, oldest first, at most ``limit``; read page by page."""
    key = dead_letter_key(prefix)
    found: list[Letter] = []
    start = selection.start
    try:
        while limit is None or len(found) < limit:
            page: list[Any] = await redis.xrange(key, start, selection.end, count=PAGE)
            for raw_id, fields in page:
                letter = letter_of(prefix, raw_id.decode(), fields or {})
                if selection.accepts(letter):
                    found.append(letter)
            if len(page) < PAGE:
                break
            start = next_id(page[-1][0].decode())
    except REDIS_ERRORS as e:
        raise translate(e, "read dead letters") from e
    return found if limit is None else found[:limit]


async def get_letters(redis: aioredis.Redis, prefix: str, letter_ids: Sequence[str]) -> list[Letter]:
    """The letters with these ids, in the order asked; ids with no letter are left out."""
    key = dead_letter_key(prefix)
    letters = []
    try:
        for letter_id in letter_ids:
            for raw_id, fields in await redis.xrange(key, letter_id, letter_id):
                letters.append(letter_of(prefix, raw_id.decode(), fields or {}))
    except REDIS_ERRORS as e:
        raise translate(e, "read dead letters") from e
    return letters


def destination(prefix: str, letter: Letter, partitions: int) -> str:
    """Where ``replay`` puts a letter back: its account's stream of its kind (see above)."""
    if letter.envelope is None:
        return letter.stream
    return account_stream_key(prefix, letter.envelope.kind, letter.envelope.ex_id, partitions)


async def replay(
    redis: aioredis.Redis, prefix: str, letters: Sequence[Letter], *, partitions: int
) -> ReplayResult:
    """Re-publish each letter on its account's stream (``destination``), then remove the letters
    that were; ``partitions``: the streams per kind the sinks read now."""
    result = ReplayResult()
    todo: list[Letter] = []
    for letter in letters:
        if kind_of_stream(prefix, letter.stream) is None:
            result.skipped.append(
                (letter.letter_id, f"not from an event stream of {prefix!r}: {letter.stream!r}")
            )
        else:
            todo.append(letter)
    if not todo:
        return result
    targets = [destination(prefix, letter, partitions) for letter in todo]
    pipe = redis.pipeline(transaction=False)
    for letter, target in zip(todo, targets, strict=True):
        entry: dict[FieldT, EncodableT] = {ENTRY_FIELD: letter.payload}
        pipe.xadd(target, entry)
    try:
        replies: list[Any] = await pipe.execute(raise_on_error=False)
    except REDIS_ERRORS as e:
        raise translate(e, "replay dead letters") from e
    published: list[str] = []
    for letter, target, reply in zip(todo, targets, replies, strict=True):
        if isinstance(reply, Exception):
            result.skipped.append((letter.letter_id, f"re-publish failed: {reply}"))
        else:
            published.append(letter.letter_id)
            result.replayed.append((letter.letter_id, target, reply.decode()))
    if published:
        await drop(redis, prefix, published)
    return result


async def drop(redis: aioredis.Redis, prefix: str, letter_ids: Sequence[str]) -> int:
    """Delete these letters; how many there were."""
    if not letter_ids:
        return 0
    pipe = redis.pipeline(transaction=False)
    pipe.xdel(dead_letter_key(prefix), *letter_ids)
    try:
        [removed] = await execute(pipe)
    except REDIS_ERRORS as e:
        raise translate(e, "remove dead letters") from e
    return int(removed)
