"""Conditional writes of JSON documents kept one per field of Redis hashes, a whole batch per script call.

The writes of a batch go through one Lua script call (per ``CHUNK`` entries), so each of these
holds atomically per field, even with several sink consumers writing the same ``ex_id`` at once:

- **latest wins by exchange time**: an entry whose newest exchange time (``top``) is older than
  the one stored in ``<hash>:exchange_ms`` is skipped (equal is written: a replay is harmless);
- **replace from a base**: an entry that replaces the document was built from a complete snapshot
  taken at ``base`` (partial updates up to ``top`` laid over it). If the stored time lies after
  ``base`` the entry is refused (``CONFLICT``): the caller re-reads and merges only the partial
  updates newer than what is stored, so a late complete snapshot cannot undo a newer one;
- **compare-and-set** for merges: a merged entry carries the document and time it was built from
  and is refused if either changed since (JSON is merged in Python, since Redis' cjson rounds
  floats to 14 digits);
- **freshness**: ``<hash>:freshness`` holds the writer's clock (epoch seconds) of the last write,
  so a reader can tell a dead producer's data from live data. The data hashes keep no TTL:
  fullon readers expect the fields to be there.

Why a handful of arguments for a whole batch: redis-py packs every argument of a command
separately (about 1 µs each), which was most of the cache sink's time when each account took one
EVALSHA with six arguments. Here the bytes of all entries travel concatenated in ``ARGV[2]``, and
per hash two JSON arrays describe them (field, exchange times, expected time, byte lengths):
``ARGV[2h+1]`` for the replacing writes, ``ARGV[2h+2]`` for the compare-and-sets. Lua cuts the
bytes apart; its cjson decodes those arrays faster than Lua patterns parse text (the times are
sent as strings, so no float formatting gets near them).

On a Redis Cluster a script may only touch keys of one slot. The data hashes keep the names
fullon reads (no hash tag), so there the side hashes are ``{<hash>}:exchange_ms`` and
``{<hash>}:freshness``, which hash to the data hash's own slot; a batch is one script call per
data hash, and the two reads of a batch are no longer one snapshot across hashes (a stale read
only makes a compare-and-set answer ``CONFLICT``, and the caller reads again). A single node keeps
the plain side names, so an existing deployment moves nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import msgspec
import redis.asyncio as aioredis

from fullon_account_service.bus.redis_errors import REDIS_ERRORS, translate
from fullon_account_service.errors import FatalError
from fullon_account_service.redis_client import is_cluster
from fullon_account_service.storage.cache_shapes import decode
from fullon_account_service.storage.redis_calls import awaited

WRITTEN, STALE, CONFLICT = 1, 0, -1
CHUNK = 2_000
"""Entries per script call: a script blocks Redis while it runs, so a huge call is cut up."""

_meta = msgspec.json.Encoder()

_SCRIPT = """
local now, blob = ARGV[1], ARGV[2]
local pos, results, n = 1, {}, 0
local sub, decode, tonumber, call = string.sub, cjson.decode, tonumber, redis.call
local function num(s) if s == '-' then return nil end return tonumber(s) end
-- one command over a long list, in slices: unpack() is bounded by Lua's C stack
local function sliced(cmd, key, list, count)
  local out, m = {}, 0
  for i = 1, count, 1000 do
    local part = call(cmd, key, unpack(list, i, math.min(i + 999, count)))
    if type(part) == 'table' then
      for j = 1, #part do m = m + 1; out[m] = part[j] end
    end
  end
  return out
end
for h = 1, #KEYS / 3 do
  local fields, tops, bases, values, expvers, expects, cas_fields = {}, {}, {}, {}, {}, {}, {}
  local count = 0
  local replaces, merges = decode(ARGV[1 + 2 * h]), decode(ARGV[2 + 2 * h])
  for j = 1, #replaces, 4 do
    count = count + 1
    local vlen = replaces[j + 3]
    fields[count], tops[count], bases[count] = replaces[j], replaces[j + 1], num(replaces[j + 2])
    values[count] = sub(blob, pos, pos + vlen - 1)
    pos = pos + vlen
  end
  local replaced = count
  for j = 1, #merges, 5 do
    count = count + 1
    local vlen, elen = merges[j + 3], merges[j + 4]
    fields[count], tops[count], expvers[count] = merges[j], merges[j + 1], merges[j + 2]
    cas_fields[count - replaced] = merges[j]
    values[count] = sub(blob, pos, pos + vlen - 1)
    expects[count] = elen > 0 and sub(blob, pos + vlen, pos + vlen + elen - 1)
    pos = pos + vlen + elen
  end
  local stored = sliced('HMGET', KEYS[3 * h - 1], fields, count)
  local current = sliced('HMGET', KEYS[3 * h - 2], cas_fields, count - replaced)
  local sets, dels, vers, fresh, ns, nd, nv, nf = {}, {}, {}, {}, 0, 0, 0, 0
  for i = 1, count do
    local sv = stored[i]
    local svn, top, r = sv and tonumber(sv), num(tops[i]), 1
    if top and svn and svn > top then
      r = 0
    elseif i <= replaced then
      if bases[i] and svn and svn > bases[i] then r = -1 end
    elseif (sv or '-') ~= expvers[i] or current[i - replaced] ~= expects[i] then
      r = -1
    end
    if r == 1 then
      local field, value = fields[i], values[i]
      if value == '' then
        nd = nd + 1; dels[nd] = field
      else
        sets[ns + 1], sets[ns + 2], ns = field, value, ns + 2
      end
      if top then vers[nv + 1], vers[nv + 2], nv = field, tops[i], nv + 2 end
      fresh[nf + 1], fresh[nf + 2], nf = field, now, nf + 2
    end
    n = n + 1
    results[n] = r
  end
  sliced('HSET', KEYS[3 * h - 2], sets, ns)
  sliced('HDEL', KEYS[3 * h - 2], dels, nd)
  sliced('HSET', KEYS[3 * h - 1], vers, nv)
  sliced('HSET', KEYS[3 * h], fresh, nf)
end
return results
"""


Document = dict[str, Any]


def freshness_key(key: str, *, clustered: bool = False) -> str:
    return f"{{{key}}}:freshness" if clustered else f"{key}:freshness"


def version_key(key: str, *, clustered: bool = False) -> str:
    return f"{{{key}}}:exchange_ms" if clustered else f"{key}:exchange_ms"


@dataclass(frozen=True, slots=True)
class Stored:
    """A field as read: its document bytes and exchange time (``None``: absent)."""

    document: bytes | None
    version: bytes | None

    @property
    def exchange_ms(self) -> int | None:
        return None if self.version is None else int(self.version)


class Write(NamedTuple):
    """One field's conditional write; ``value`` ``None`` deletes the field.

    Without ``expect`` the write replaces the field, refused if the stored time is after ``base``;
    with it, the write only lands if the field is still exactly ``expect``. (A tuple: one is
    built per account per batch, and a frozen dataclass costs several times more to build.)
    """

    ex_id: int
    value: bytes | None
    top: int | None
    base: int | None = None
    expect: Stored | None = None


class VersionedHash:
    """One data hash and its two side hashes: the reads of a single field or all of them."""

    def __init__(self, redis: aioredis.Redis, key: str) -> None:
        self._redis = redis
        clustered = is_cluster(redis)
        self.keys = (key, version_key(key, clustered=clustered), freshness_key(key, clustered=clustered))

    @property
    def key(self) -> str:
        return self.keys[0]

    async def freshness(self, ex_id: int) -> float | None:
        try:
            raw = await awaited(self._redis.hget(self.keys[2], str(ex_id)))
        except REDIS_ERRORS as e:
            raise translate(e, f"read {self.keys[2]}") from e
        return None if raw is None else float(raw)

    async def get(self, ex_id: int) -> Document | None:
        try:
            raw = await awaited(self._redis.hget(self.key, str(ex_id)))
        except REDIS_ERRORS as e:
            raise translate(e, f"read {self.key}") from e
        return decode(raw)

    async def get_all(self) -> dict[str, Document]:
        try:
            raw: dict[bytes | str, bytes] = await awaited(self._redis.hgetall(self.key))
        except REDIS_ERRORS as e:
            raise translate(e, f"read {self.key}") from e
        documents: dict[str, Document] = {}
        for field, value in raw.items():
            document = decode(value)
            if document is not None:
                documents[field.decode() if isinstance(field, bytes) else field] = document
        return documents


class BatchWriter:
    """Reads and writes several versioned hashes together: one round trip each way per batch."""

    def __init__(
        self, redis: aioredis.Redis, hashes: Sequence[VersionedHash], *, clock: Callable[[], float]
    ) -> None:
        self._redis = redis
        self._hashes = tuple(hashes)
        self._keys = [key for h in self._hashes for key in h.keys]
        self._script = redis.register_script(_SCRIPT)
        self._clock = clock
        self._clustered = is_cluster(redis)

    async def read(self, ex_ids: Sequence[Sequence[int]]) -> list[dict[int, Stored]]:
        """Document and time of each ``ex_ids[i]`` of hash ``i``, as one consistent snapshot."""
        wanted = [(h, list(ids)) for h, ids in zip(self._hashes, ex_ids, strict=True) if ids]
        out: list[dict[int, Stored]] = [{} for _ in self._hashes]
        if not wanted:
            return out
        pipe = self._redis.pipeline(transaction=not self._clustered)
        for h, ids in wanted:
            fields = [str(i) for i in ids]
            pipe.hmget(h.keys[0], fields)
            pipe.hmget(h.keys[1], fields)
        try:
            raw: list[list[bytes | None]] = await pipe.execute()
        except REDIS_ERRORS as e:
            raise translate(e, "read cached documents") from e
        for n, (h, ids) in enumerate(wanted):
            documents, versions = raw[2 * n], raw[2 * n + 1]
            out[self._hashes.index(h)] = {
                ex_id: Stored(document, version)
                for ex_id, document, version in zip(ids, documents, versions, strict=True)
            }
        return out

    async def write(self, writes: Sequence[Sequence[Write]]) -> list[dict[int, int]]:
        """``writes[i]`` into hash ``i``, at most one per ``ex_id``; per hash and ``ex_id``
        ``WRITTEN``, ``STALE`` or ``CONFLICT``."""
        out: list[dict[int, int]] = [{} for _ in writes]
        now = repr(self._clock())
        batch: list[list[Write]] = [[] for _ in writes]
        size = 0
        for h, ws in enumerate(writes):
            for w in ws:
                batch[h].append(w)
                size += 1
                if size == CHUNK:
                    await self._call(batch, now, out)
                    batch, size = [[] for _ in writes], 0
        if size:
            await self._call(batch, now, out)
        return out

    async def _call(self, writes: list[list[Write]], now: str, out: list[dict[int, int]]) -> None:
        """One script call (one per hash on a cluster). Per hash, replacing writes and
        compare-and-sets are described in separate arrays (they carry different fields); the
        codes come back in the order sent."""
        blobs: list[bytes] = []
        metas: list[tuple[bytes, bytes]] = []
        sent: list[list[int]] = []
        for ws in writes:
            replaces: list[str | int] = []
            merges: list[str | int] = []
            parts: list[bytes] = []
            merge_parts: list[bytes] = []
            replaced: list[int] = []
            merged: list[int] = []
            for ex_id, value, top, base, expect in ws:
                value = value or b""
                at = "-" if top is None else str(top)
                if expect is None:
                    replaces += (str(ex_id), at, at if base is None else str(base), len(value))
                    parts.append(value)
                    replaced.append(ex_id)
                else:
                    expected = expect.document or b""
                    version = "-" if expect.version is None else expect.version.decode()
                    merges += (str(ex_id), at, version, len(value), len(expected))
                    merge_parts += (value, expected)
                    merged.append(ex_id)
            blobs.append(b"".join(parts + merge_parts))
            metas.append((_meta.encode(replaces), _meta.encode(merges)))
            sent.append(replaced + merged)
        try:
            if self._clustered:
                codes: list[int] = []
                for h, hashed in enumerate(self._hashes):
                    if sent[h]:
                        codes += await self._script(keys=hashed.keys, args=[now, blobs[h], *metas[h]])
            else:
                args: list[str | bytes] = [now, b"".join(blobs)]
                args += [meta for pair in metas for meta in pair]
                codes = await self._script(keys=self._keys, args=args)
        except REDIS_ERRORS as e:
            raise translate(e, "write cached documents") from e
        flat = [(h, ex_id) for h, ex_ids in enumerate(sent) for ex_id in ex_ids]
        if len(codes) != len(flat):
            raise FatalError(f"cache write script answered {len(codes)} of {len(flat)} entries")
        for (h, ex_id), code in zip(flat, codes, strict=True):
            out[h][ex_id] = int(code)
