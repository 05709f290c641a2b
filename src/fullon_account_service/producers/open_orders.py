"""The orders the service last saw open, per account, in Redis: what must be resolved after a restart.

Key ``{prefix}open_orders:{ex_id}``, a hash ``ex_order_id -> {"symbol", "created_ms"}``. An order
enters when an event says it is open (REST or WebSocket) and leaves only once an event with its
final state is on the bus, so a producer that dies in between still finds it here and asks the
venue (``resolve``). Writes are not fenced: one producer owns an account at a time. A stream's
order that cannot be written (Redis away) waits in memory and goes with the account's next write,
so a Redis outage never stops a WebSocket loop.

Every update of an open order comes through ``track``; one written with the same fields less than
``REWRITE_AFTER_S`` ago is not written again (a Redis round trip per order update was a fifth of
the producer's CPU, issue 18). The memory of what was written holds the orders of the hash this
process wrote, and is dropped for an account on any failed write, so a Redis that lost writes it
had acknowledged gets them again at the next update (or within ``REWRITE_AFTER_S``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import msgspec
import redis.asyncio as aioredis
from redis import exceptions as rex

from fullon_account_service.bus.redis_errors import translate
from fullon_account_service.contract import Envelope, OrderUpdate
from fullon_account_service.errors import AccountServiceError
from fullon_account_service.logs import get_logger
from fullon_account_service.storage.redis_calls import awaited


class TrackedOrder(msgspec.Struct, frozen=True):
    symbol: str
    created_ms: int | None = None


_log = get_logger("producers.open_orders")
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(TrackedOrder).decode


REWRITE_AFTER_S = 30.0


def open_orders_key(prefix: str, ex_id: int) -> str:
    return f"{prefix}open_orders:{ex_id}"


class OpenOrderBook:
    def __init__(
        self, redis: aioredis.Redis, *, prefix: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._clock = clock
        self._pending: dict[int, dict[str, bytes]] = {}
        self._written: dict[int, dict[str, tuple[bytes, float]]] = {}
        """Per account: order id -> (value, when) last written to the hash by this process."""

    async def get(self, ex_id: int) -> dict[str, TrackedOrder]:
        try:
            raw: dict[bytes | str, bytes] = await awaited(
                self._redis.hgetall(open_orders_key(self._prefix, ex_id))
            )
        except rex.RedisError as e:
            raise translate(e, "open orders read") from e
        out: dict[str, TrackedOrder] = {}
        for field, value in raw.items():
            order_id = field.decode() if isinstance(field, bytes) else str(field)
            try:
                out[order_id] = _decode(value)
            except msgspec.DecodeError:
                out[order_id] = TrackedOrder(symbol="")
        for order_id, value in self._pending.get(ex_id, {}).items():
            out.setdefault(order_id, _decode(value))
        return out

    async def track(self, ex_id: int, envelopes: Iterable[Envelope]) -> None:
        """Remember every order these events say is open (terminal ones are not forgotten here);
        never raises: what Redis refused waits for the account's next write."""
        now = self._clock()
        written = self._written.get(ex_id, {})
        updates = {
            e.payload.ex_order_id: _encode(TrackedOrder(e.payload.symbol, e.payload.created_ms))
            for e in envelopes
            if isinstance(e.payload, OrderUpdate) and not e.payload.status.is_terminal
        }
        mapping = {
            **self._pending.pop(ex_id, {}),
            **{i: v for i, v in updates.items() if not _recent(written.get(i), v, now)},
        }
        try:
            await self._write(ex_id, mapping, [])
        except AccountServiceError as e:
            self._pending[ex_id] = mapping
            self._written.pop(ex_id, None)
            _log.warning("open orders kept in memory until Redis answers", ex_id=ex_id, error=str(e))
            return
        self._remember(ex_id, mapping, [], now)

    async def settle(self, ex_id: int, envelopes: Iterable[Envelope]) -> None:
        """After ``envelopes`` reached the bus: open orders stay tracked, finished ones leave."""
        final: dict[str, OrderUpdate] = {}
        for e in envelopes:
            p = e.payload
            if isinstance(p, OrderUpdate) and not (
                p.ex_order_id in final and final[p.ex_order_id].status.is_terminal
            ):
                final[p.ex_order_id] = p
        mapping = {
            i: _encode(TrackedOrder(p.symbol, p.created_ms))
            for i, p in final.items()
            if not p.status.is_terminal
        }
        gone = [i for i, p in final.items() if p.status.is_terminal]
        pending = self._pending.pop(ex_id, {})
        writes = {**{i: v for i, v in pending.items() if i not in gone}, **mapping}
        try:
            await self._write(ex_id, writes, gone)
        except AccountServiceError:
            self._pending[ex_id] = pending
            self._written.pop(ex_id, None)
            raise
        self._remember(ex_id, writes, gone, self._clock())

    def _remember(self, ex_id: int, writes: dict[str, bytes], gone: list[str], now: float) -> None:
        written = self._written.setdefault(ex_id, {})
        for order_id in gone:
            written.pop(order_id, None)
        written.update((i, (v, now)) for i, v in writes.items())

    async def _write(self, ex_id: int, mapping: dict[str, bytes], gone: list[str]) -> None:
        if not mapping and not gone:
            return
        key = open_orders_key(self._prefix, ex_id)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                if mapping:
                    pipe.hset(key, mapping=mapping)
                if gone:
                    pipe.hdel(key, *gone)
                await pipe.execute()
        except rex.RedisError as e:
            raise translate(e, "open orders write") from e


def _recent(written: tuple[bytes, float] | None, value: bytes, now: float) -> bool:
    """Written with these fields less than ``REWRITE_AFTER_S`` ago."""
    return written is not None and written[0] == value and now - written[1] < REWRITE_AFTER_S
