"""The orders the service last saw open, per account, in Redis: what must be resolved after a restart.

Key ``{prefix}open_orders:{ex_id}``, a hash ``ex_order_id -> {"symbol", "created_ms"}``. An order
enters when an event says it is open (REST or WebSocket) and leaves only once an event with its
final state is on the bus, so a producer that dies in between still finds it here and asks the
venue (``resolve``). Writes are not fenced: one producer owns an account at a time.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec
import redis.asyncio as aioredis
from redis import exceptions as rex

from fullon_account_service.bus.redis_errors import translate
from fullon_account_service.contract import Envelope, OrderUpdate
from fullon_account_service.storage.redis_calls import awaited


class TrackedOrder(msgspec.Struct, frozen=True):
    symbol: str
    created_ms: int | None = None


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(TrackedOrder).decode


def open_orders_key(prefix: str, ex_id: int) -> str:
    return f"{prefix}open_orders:{ex_id}"


class OpenOrderBook:
    def __init__(self, redis: aioredis.Redis, *, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

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
            except msgspec.ValidationError:
                out[order_id] = TrackedOrder(symbol="")
        return out

    async def track(self, ex_id: int, envelopes: Iterable[Envelope]) -> None:
        """Remember every order these events say is open (terminal ones are not forgotten here)."""
        mapping = {
            e.payload.ex_order_id: _encode(TrackedOrder(e.payload.symbol, e.payload.created_ms))
            for e in envelopes
            if isinstance(e.payload, OrderUpdate) and not e.payload.status.is_terminal
        }
        if mapping:
            await self._write(ex_id, mapping, [])

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
        await self._write(ex_id, mapping, gone)

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
