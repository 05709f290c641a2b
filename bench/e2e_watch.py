"""Watching the bus from outside: when each event was emitted, received, published and stored.

Every ``POLL_S`` one pipelined round trip asks each stream for its groups' progress (``XINFO
GROUPS``, ``XPENDING``) and then for the entries added since the last poll (``XRANGE``), in that
order: an entry a group has acknowledged was in the stream before the progress was read, so the
``XRANGE`` after it has it too. An entry is *stored* once its group has delivered it and it is no
longer pending (the sinks acknowledge only after the cache write or the database commit), and
the time of the first poll that sees that is its visibility time (so visibility is late by at
most one poll plus a round trip).

Legs of an entry: emission (the venue's ``exchange_ms``; the simulator stamps it from the same
wall clock) to the producer (``received_ms``), producer to bus (the entry id's milliseconds,
Redis's clock on this machine), bus to storage (visibility). Only WebSocket entries have an
emission time worth measuring: a REST read reports facts of any age.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import msgspec
import redis.asyncio as aioredis

from fullon_account_service.bus.streams import ENTRY_FIELD, parse_id, previous_id, stream_key
from fullon_account_service.contract import (
    BalanceSnapshot,
    Envelope,
    OrderUpdate,
    PositionSnapshot,
    Source,
    TradeFill,
    decode,
)
from fullon_account_service.sinks.runner import GROUPS

POLL_S = 0.01
READ_COUNT = 5_000
_encoder = msgspec.msgpack.Encoder()


def now_ms() -> float:
    return time.time() * 1000.0


def fact_of(envelope: Envelope) -> tuple[tuple[object, ...], bytes]:
    """What an event is about (its key) and what it says about it (its state): two events with
    the same key and state repeat one fact."""
    p = envelope.payload
    if isinstance(p, OrderUpdate):
        key: tuple[object, ...] = ("order", envelope.ex_id, p.ex_order_id)
        state: object = (p.status, p.filled, p.average, p.fee)
    elif isinstance(p, TradeFill):
        key, state = ("trade", envelope.ex_id, p.ex_trade_id), ()
    elif isinstance(p, BalanceSnapshot):
        key, state = ("balance", envelope.ex_id), p.balances
    elif isinstance(p, PositionSnapshot):
        key, state = ("position", envelope.ex_id), p.positions
    else:  # a ledger entry: one fact per (ledger id, currency), like a fill
        key, state = ("ledger", envelope.ex_id, p.ex_ledger_id, p.currency), ()
    return key, _encoder.encode(state)


@dataclass(slots=True)
class Seen:
    """One bus entry as the watcher saw it; times in ms since the epoch."""

    kind: str
    ex_id: int
    ws: bool
    exchange_ms: float | None
    received_ms: float
    bus_id: tuple[int, int]
    repeat: bool
    stored_ms: float | None = None
    source: str = Source.WS.value

    @property
    def bus_ms(self) -> float:
        return float(self.bus_id[0])


@dataclass
class Watcher:
    redis: aioredis.Redis
    prefix: str
    entries: dict[str, list[Seen]] = field(default_factory=dict)
    _last_id: dict[str, str] = field(default_factory=dict)
    _stored_upto: dict[str, int] = field(default_factory=dict)
    _facts: dict[tuple[object, ...], bytes] = field(default_factory=dict)
    _group_of: dict[str, str] = field(default_factory=dict)
    _grouped: set[str] = field(default_factory=set)
    _existing: set[str] = field(default_factory=set)
    _ws_seen: int = 0
    _polled_at: float | None = None
    gap_ms: float = 0.0
    """The longest time between two polls since the last ``reset_gap`` (the visibility times'
    resolution: an entry stored inside a gap is seen stored at its end)."""
    keep_raw: int = 0
    raw: list[tuple[tuple[int, int], str, bytes]] = field(default_factory=list)
    """The first ``keep_raw`` entries as read (id, stream, codec bytes), for the baseline's replay."""

    def __post_init__(self) -> None:
        for group, kinds in GROUPS.items():
            for kind in kinds:
                key = stream_key(self.prefix, kind)
                self.entries[key] = []
                self._last_id[key] = "0-0"
                self._stored_upto[key] = 0
                self._group_of[key] = group

    async def poll(self) -> None:
        # No command that can fail: fakeredis's TCP server drops the connection after an error
        # reply in a pipeline. So XINFO only once the stream exists, XPENDING once the group does.
        missing = [key for key in self.entries if key not in self._existing]
        if missing:
            probe = self.redis.pipeline(transaction=False)
            for key in missing:
                probe.exists(key)
            self._existing.update(key for key, n in zip(missing, await probe.execute(), strict=True) if n)
        keys = [key for key in self.entries if key in self._existing]
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.xinfo_groups(key)
            if key in self._grouped:
                pipe.xpending(key, self._group_of[key])
        for key in keys:
            pipe.xrange(key, min=f"({self._last_id[key]}", count=READ_COUNT)
        replies = await pipe.execute(raise_on_error=False)
        seen_at = now_ms()
        if self._polled_at is not None:
            self.gap_ms = max(self.gap_ms, seen_at - self._polled_at)
        self._polled_at = seen_at
        progress = iter(replies[: len(replies) - len(keys)])
        for key, read in zip(keys, replies[len(replies) - len(keys) :], strict=True):
            if isinstance(read, list):
                self._add(key, read)
        for key in keys:
            groups = next(progress)
            pending = next(progress) if key in self._grouped else None
            if not isinstance(groups, list):
                continue
            info = next((g for g in groups if _text(g["name"]) == self._group_of[key]), None)
            if info is not None and isinstance(pending, dict):
                self._mark(key, info, pending, seen_at)
            elif info is not None:
                self._grouped.add(key)

    def _add(self, key: str, read: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        out = self.entries[key]
        for raw_id, fields in read:
            entry_id = raw_id.decode()
            envelope = decode(fields[ENTRY_FIELD])
            fact, state = fact_of(envelope)
            repeat = self._facts.get(fact) == state
            self._facts[fact] = state
            exchange = float(envelope.exchange_ms) if envelope.exchange_ms is not None else None
            ws = envelope.source is Source.WS
            self._ws_seen += ws
            received = float(envelope.received_ms)
            bus_id = parse_id(entry_id)
            source = envelope.source.value
            out.append(
                Seen(envelope.kind, envelope.ex_id, ws, exchange, received, bus_id, repeat, source=source)
            )
            self._last_id[key] = entry_id
            if len(self.raw) < self.keep_raw:
                self.raw.append((parse_id(entry_id), key, fields[ENTRY_FIELD]))

    def _mark(self, key: str, info: dict[str, object], pending: dict[str, object], at: float) -> None:
        delivered = parse_id(_text(info["last-delivered-id"]))
        frontier = delivered
        if int(str(pending["pending"])) > 0:
            frontier = min(delivered, parse_id(previous_id(_text(pending["min"]))))
        out = self.entries[key]
        i = self._stored_upto[key]
        while i < len(out) and out[i].bus_id <= frontier:
            out[i].stored_ms = at
            i += 1
        self._stored_upto[key] = i

    def reset_gap(self) -> None:
        self.gap_ms, self._polled_at = 0.0, None

    def backlog(self) -> int:
        return sum(len(out) - self._stored_upto[key] for key, out in self.entries.items())

    def pushed(self) -> int:
        """WebSocket entries seen so far."""
        return self._ws_seen

    def describe(self) -> str:
        return ", ".join(
            f"{key}: {len(out)} read, {len(out) - self._stored_upto[key]} unstored"
            + ("" if key in self._grouped else " (no group)")
            for key, out in self.entries.items()
        )

    def total(self) -> int:
        return sum(len(out) for out in self.entries.values())


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
