"""Per-account history cursors in Redis: the exchange time up to which a history reached the bus.

Key ``{prefix}cursor:{ex_id}`` for fills, ``{prefix}order_cursor:{ex_id}`` for closed orders
(``named``), value ``"{ms}@{token}"``: the time in ms and the highest lease fencing token that
wrote it (a bare ``"{ms}"`` is token 0: no lease ever wrote it; ``"@{token}"`` is a fence with no
time yet). A cursor only moves forward, and only after the rows before it were published,
so a producer that dies or loses Redis starts again from a point whose rows are all on the bus.
Rows are re-read from ``cursor - overlap`` (a venue may list a fill a little after its
timestamp); the duplicates this yields carry the same event id.

Fencing: a producer that takes an account's lease stamps its token on the cursors first
(``fence``), and every write carries the writer's token (``FenceBook``); one Lua script on the one
key refuses a token older than the stored one (``StaleLeaseError``), so an old owner that was
paused and resumes can move the cursor neither backwards nor forwards. An account with no token
in the book (``--shard`` or ``--ex-id`` modes, no leases) writes unfenced.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import redis.asyncio as aioredis

from fullon_account_service.bus.redis_errors import REDIS_ERRORS, translate
from fullon_account_service.errors import StaleLeaseError
from fullon_account_service.storage.redis_calls import Script

UNFENCED = -1

_WRITE = """
local raw = redis.call('GET', KEYS[1])
local ms, tok = '', 0
if raw then
  local at = string.find(raw, '@', 1, true)
  if at then
    ms = string.sub(raw, 1, at - 1)
    tok = tonumber(string.sub(raw, at + 1)) or 0
  else
    ms = raw
  end
end
local want = tonumber(ARGV[2])
if want >= 0 and want < tok then return {0, ms, tostring(tok)} end
if want < 0 then want = tok end
local value = ms
if ARGV[1] ~= '' and (ms == '' or tonumber(ARGV[1]) > tonumber(ms)) then value = ARGV[1] end
if value ~= ms or want ~= tok then
  if want == 0 then redis.call('SET', KEYS[1], value)
  else redis.call('SET', KEYS[1], value .. '@' .. tostring(want)) end
end
return {1, value, tostring(want)}
"""
"""ARGV[1] the time (or '' to fence only), ARGV[2] the token (-1: unfenced); {1|0 refused,
resulting time or '', stored token}."""


def cursor_key(prefix: str, ex_id: int, name: str = "cursor") -> str:
    return f"{prefix}{name}:{ex_id}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def parse(raw: bytes | str | None) -> tuple[int | None, int]:
    """(time in ms or ``None``, token) of a stored cursor value."""
    if raw is None:
        return None, 0
    ms, _, token = _text(raw).partition("@")
    return (int(ms) if ms else None), (int(token) if token else 0)


class FenceBook:
    """Per ex_id, the lease token this producer holds and until when (monotonic) the lease is surely
    its own; shared by every ``CursorStore`` and by the clients (``may_sign``). A token stays after
    its lease is lost, so a late write is refused rather than written unfenced; an ex_id never
    leased (static modes) writes unfenced and signs freely."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._tokens: dict[int, int] = {}
        self._until: dict[int, float] = {}
        self._clock = clock
        self._on_stale: Callable[[int], None] = lambda ex_id: None

    def set(self, ex_id: int, token: int, valid_until: float = math.inf) -> None:
        self._tokens[ex_id] = token
        self._until[ex_id] = valid_until

    def expire(self, ex_id: int) -> None:
        """The lease is no longer ours: no more signing; the token stays for fencing."""
        if ex_id in self._until:
            self._until[ex_id] = -math.inf

    def token(self, ex_id: int) -> int:
        return self._tokens.get(ex_id, UNFENCED)

    def may_sign(self, ex_id: int) -> bool:
        return self._clock() < self._until.get(ex_id, math.inf)

    def on_stale(self, callback: Callable[[int], None]) -> None:
        """Called with the ex_id whose write was refused (the lease pool drops it at once)."""
        self._on_stale = callback

    def stale(self, ex_id: int) -> None:
        self._on_stale(ex_id)


class CursorStore:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        prefix: str,
        name: str = "cursor",
        fences: FenceBook | None = None,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._name = name
        self.fences = fences if fences is not None else FenceBook()
        self._write = Script(redis, _WRITE)

    def named(self, name: str) -> CursorStore:
        """Another history's cursors on the same Redis (``order_cursor``: closed orders)."""
        return CursorStore(self._redis, prefix=self._prefix, name=name, fences=self.fences)

    async def get(self, ex_id: int) -> int | None:
        return (await self._read(ex_id))[0]

    async def token(self, ex_id: int) -> int:
        """The highest lease token that fenced or wrote this cursor (0: none)."""
        return (await self._read(ex_id))[1]

    async def _read(self, ex_id: int) -> tuple[int | None, int]:
        try:
            raw = await self._redis.get(cursor_key(self._prefix, ex_id, self._name))
        except REDIS_ERRORS as e:
            raise translate(e, "cursor read") from e
        return parse(raw)

    async def advance(self, ex_id: int, time_ms: int) -> int:
        """Move the cursor to ``time_ms`` unless it is already past it; the resulting value.
        ``StaleLeaseError`` if another producer has fenced the account since our lease."""
        value = await self._run(ex_id, str(time_ms), self.fences.token(ex_id))
        return time_ms if value is None else value

    async def fence(self, ex_id: int, token: int) -> None:
        """Stamp ``token`` without moving the time; refused (``StaleLeaseError``) if older."""
        await self._run(ex_id, "", token)

    async def _run(self, ex_id: int, time_ms: str, token: int) -> int | None:
        key = cursor_key(self._prefix, ex_id, self._name)
        try:
            ok, value, stored = await self._write([key], [time_ms, token])
        except REDIS_ERRORS as e:
            raise translate(e, "cursor write") from e
        if not int(ok):
            self.fences.stale(ex_id)
            raise StaleLeaseError(
                f"{self._name} of ex_id {ex_id}: lease token {token} is older than {_text(stored)};"
                " another producer owns this account"
            )
        text = _text(value)
        return int(text) if text else None

    async def delete(self, ex_id: int) -> None:
        try:
            await self._redis.delete(cursor_key(self._prefix, ex_id, self._name))
        except REDIS_ERRORS as e:
            raise translate(e, "cursor delete") from e
