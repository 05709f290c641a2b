"""The read loop behind ``fullon-account tail``: XREAD from pinned positions, one line per entry.

With partitions, the streams of a kind are read side by side: entries of one account come in
order, those of different partitions interleave as they are read.

Apart from the command so that ``tail --help`` does not import redis, msgspec and the contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from typing import Any

import msgspec
import redis.asyncio as aioredis
import typer
from redis.typing import KeyT, StreamIdT
from rich.console import Console

from fullon_account_service.bus.slots import read_spread, slot_groups
from fullon_account_service.bus.streams import ENTRY_FIELD
from fullon_account_service.cli import tail_format as fmt
from fullon_account_service.contract import Envelope, decode
from fullon_account_service.errors import ContractError
from fullon_account_service.redis_client import make_redis
from fullon_account_service.settings import Settings

READ_COUNT = 200
MAX_BLOCK_MS = 250


class Output:
    """Rich lines for people, or one JSON object per line for programs; counts what it shows."""

    def __init__(self, as_json: bool, filters: fmt.Filters, limit: int | None) -> None:
        self._json = msgspec.json.Encoder()
        self._as_json = as_json
        self._console = Console(soft_wrap=True, highlight=False)
        self._filters = filters
        self._limit = limit
        self.shown = 0

    @property
    def done(self) -> bool:
        return self._limit is not None and self.shown >= self._limit

    def _emit_json(self, obj: dict[str, Any]) -> None:
        sys.stdout.buffer.write(self._json.encode(obj) + b"\n")
        sys.stdout.flush()

    def event(self, stream: str, entry_id: str, fields: dict[bytes, bytes]) -> None:
        try:
            envelope = decode(fields.get(ENTRY_FIELD, b""))
        except ContractError as e:
            if self._filters.active:
                return
            if self._as_json:
                self._emit_json({"stream": stream, "entry_id": entry_id, "error": str(e)})
            else:
                self._console.print(fmt.undecodable_text(stream, entry_id, str(e)))
            self.shown += 1
            return
        if not self._filters.accepts(envelope):
            return
        if self._as_json:
            self._emit_json(fmt.event_json(stream, entry_id, envelope))
        else:
            self._console.print(fmt.event_text(entry_id, envelope))
        self.shown += 1

    def dead_letter(self, stream: str, entry_id: str, raw: dict[bytes, bytes]) -> None:
        payload = raw.get(b"payload", b"")
        fields = {k.decode(): v.decode(errors="replace") for k, v in raw.items() if k != b"payload"}
        envelope: Envelope | None
        try:
            envelope = decode(payload)
        except ContractError:
            envelope = None
        if self._filters.active and (envelope is None or not self._filters.accepts(envelope)):
            return
        if self._as_json:
            obj: dict[str, Any] = {"stream": stream, "entry_id": entry_id, **fields}
            if envelope is not None:
                obj["kind"] = envelope.kind
                obj["envelope"] = msgspec.to_builtins(envelope)
            else:
                obj["payload"] = payload.decode(errors="replace")
            self._emit_json(obj)
        else:
            self._console.print(fmt.dead_letter_text(entry_id, fields, envelope))
        self.shown += 1


async def _start_ids(redis: aioredis.Redis, streams: list[str], since: str | None) -> dict[KeyT, StreamIdT]:
    starts: dict[KeyT, StreamIdT] = {}
    if since is not None:
        starts.update((stream, since) for stream in streams)
        return starts
    # "now" is pinned to each stream's last id up front; XREAD's "$" would be re-evaluated on
    # every call and skip whatever arrived between two reads.
    for stream in streams:
        last = await redis.xrevrange(stream, count=1)
        starts[stream] = last[0][0].decode() if last else "0-0"
    return starts


def _stop_on_signals() -> asyncio.Event:
    """Ctrl-C and SIGTERM end the watch between two reads.

    Relying on task cancellation alone is not enough: a cancel that lands inside redis-py's
    blocking read can be absorbed there, and the watch would go on until its timeout.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows' loops
            loop.add_signal_handler(sig, stop.set)
    return stop


async def _follow(
    redis: aioredis.Redis,
    streams: list[str],
    since: str | None,
    out: Output,
    dlq: bool,
    timeout_s: float | None,
) -> None:
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    stop = _stop_on_signals()
    positions = await _start_ids(redis, streams, since)
    groups = slot_groups(redis, streams)  # one XREAD per slot on a cluster (``bus.slots``)

    async def read(group: tuple[str, ...], block: int | None) -> list[Any]:
        reply = await redis.xread({s: positions[s] for s in group}, count=READ_COUNT, block=block)
        return list(reply or ())

    # On stderr so --json output stays clean; also tells a script the watch has started.
    typer.echo(f"following {', '.join(streams)} from {since or 'now'}", err=True)
    while not out.done and not stop.is_set():
        block_ms = MAX_BLOCK_MS
        if deadline is not None:
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                return
            block_ms = max(1, min(block_ms, left_ms))
        for stream_name, entries in await read_spread(groups, read, block_ms):
            stream = stream_name.decode()
            for raw_id, fields in entries:
                entry_id = raw_id.decode()
                positions[stream] = entry_id
                (out.dead_letter if dlq else out.event)(stream, entry_id, fields or {})
                if out.done:
                    return


async def run(
    settings: Settings,
    streams: list[str],
    since: str | None,
    out: Output,
    dlq: bool,
    timeout_s: float | None,
) -> None:
    redis = make_redis(settings)
    try:
        await _follow(redis, streams, since, out, dlq, timeout_s)
    finally:
        await redis.aclose()
