"""The orders the service last saw open, per account, in Redis: what must be resolved after a restart.

Key ``{prefix}open_orders:{ex_id}``, a hash ``ex_order_id -> {"symbol", "created_ms"}``. An order
enters when an event says it is open (REST or WebSocket) and leaves only once an event with its
final state is on the bus, so a producer that dies in between still finds it here and asks the
venue (``resolve``). Writes are not fenced: one producer owns an account at a time.

A stream's update of an open order is ``stage``d: the write goes in the outbox's pipeline ahead
of the order's events (``side_write``), no round trip of its own (one per order-update batch was
4-9 % of the producer's busy samples, issue 18), and the outbox retries it with them while Redis is away,
so an outage never stops a WebSocket loop; until it is written, ``get`` counts its orders. An
order staged or written with the same fields less than ``REWRITE_AFTER_S`` ago is not written
again. The memory of what was written holds the orders of the hash this process wrote, and is
dropped for an account on any failed write, so a Redis that lost writes it had acknowledged gets
them again at the next update (or within ``REWRITE_AFTER_S``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import msgspec
import redis.asyncio as aioredis

from fullon_account_service.bus.redis_errors import REDIS_ERRORS, translate
from fullon_account_service.contract import Envelope, OrderUpdate
from fullon_account_service.errors import AccountServiceError
from fullon_account_service.storage.redis_calls import awaited


class TrackedOrder(msgspec.Struct, frozen=True):
    symbol: str
    created_ms: int | None = None


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
        self.prefix = prefix
        self._clock = clock
        self._pending: dict[int, dict[str, bytes]] = {}
        """Per account: orders staged or refused and not yet written (``get`` counts them)."""
        self._written: dict[int, dict[str, tuple[bytes, float]]] = {}
        """Per account: order id -> (value, when) last written to the hash by this process."""

    async def get(self, ex_id: int) -> dict[str, TrackedOrder]:
        try:
            raw: dict[bytes | str, bytes] = await awaited(
                self._redis.hgetall(open_orders_key(self.prefix, ex_id))
            )
        except REDIS_ERRORS as e:
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

    def stage(self, ex_id: int, envelopes: Iterable[Envelope]) -> OpenOrdersWrite | None:
        """The write recording every order these events say is open that the hash may not hold
        (terminal ones are not forgotten here); ``None`` when there is none. The caller sends it
        ahead of the events."""
        now = self._clock()
        written = self._written.get(ex_id, {})
        staged = self._pending.setdefault(ex_id, {})
        updates = {
            e.payload.ex_order_id: _encode(TrackedOrder(e.payload.symbol, e.payload.created_ms))
            for e in envelopes
            if isinstance(e.payload, OrderUpdate) and not e.payload.status.is_terminal
        }
        mapping = {
            i: v for i, v in updates.items() if staged.get(i) != v and not _recent(written.get(i), v, now)
        }
        if not mapping:
            return None
        staged.update(mapping)
        return OpenOrdersWrite(self, ex_id, mapping, now)

    def _wrote(self, ex_id: int, mapping: dict[str, bytes], at: float) -> None:
        staged = self._pending.get(ex_id, {})
        for order_id, value in mapping.items():
            if staged.get(order_id) == value:
                del staged[order_id]
        self._remember(ex_id, mapping, [], at)

    def _failed(self, ex_id: int) -> None:
        self._written.pop(ex_id, None)

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
            self._pending[ex_id] = {**pending, **self._pending.get(ex_id, {})}
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
        key = open_orders_key(self.prefix, ex_id)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                if mapping:
                    pipe.hset(key, mapping=mapping)
                if gone:
                    pipe.hdel(key, *gone)
                await pipe.execute()
        except REDIS_ERRORS as e:
            raise translate(e, "open orders write") from e


class OpenOrdersWrite:
    """One staged write of open orders (a ``SideWrite``): HSET in the outbox's pipeline."""

    __slots__ = ("_at", "_book", "_ex_id", "_mapping")

    def __init__(self, book: OpenOrderBook, ex_id: int, mapping: dict[str, bytes], at: float) -> None:
        self._book = book
        self._ex_id = ex_id
        self._mapping = mapping
        self._at = at

    @property
    def orders(self) -> frozenset[str]:
        return frozenset(self._mapping)

    def queue(self, pipe: aioredis.client.Pipeline) -> None:
        pipe.hset(open_orders_key(self._book.prefix, self._ex_id), mapping=self._mapping)

    def written(self) -> None:
        self._book._wrote(self._ex_id, self._mapping, self._at)

    def failed(self) -> None:
        self._book._failed(self._ex_id)


def _recent(written: tuple[bytes, float] | None, value: bytes, now: float) -> bool:
    """Written with these fields less than ``REWRITE_AFTER_S`` ago."""
    return written is not None and written[0] == value and now - written[1] < REWRITE_AFTER_S
