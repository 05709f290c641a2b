"""One ProcessCache entry per account (fullon layout), written at most once per 30 s per account.

Loops post their state on ``ProducerContext.status``; the heartbeat turns it into
``update_process`` calls, rate-limited per account, so a thousand accounts cost about 33 writes a
second at most, not one per event. A leased account registers with its lease token, so an old
owner cannot re-point the account's component at itself (``ProcessCache``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from fullon_account_service.errors import AccountServiceError
from fullon_account_service.logs import get_logger
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.context import ProducerContext
from fullon_account_service.producers.cursor import UNFENCED, FenceBook
from fullon_account_service.storage.process_cache import ProcessCache, account_component

PROCESS_TYPE = "account"
MIN_UPDATE_INTERVAL_S = 30.0
_log = get_logger("producers.heartbeat")


class Heartbeat:
    def __init__(
        self,
        cache: ProcessCache,
        context: ProducerContext,
        *,
        interval_s: float = MIN_UPDATE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        fences: FenceBook | None = None,
    ) -> None:
        self._cache = cache
        self._fences = fences or FenceBook()
        self._ctx = context
        self._interval = interval_s
        self._clock = clock
        self._ids: dict[int, str] = {}
        self._last: dict[int, float] = {}

    async def register(self, ref: AccountRef, strategy: str) -> None:
        params: dict[str, object] = {
            "ex_id": ref.ex_id,
            "exchange": ref.venue,
            "name": ref.name,
            "strategy": strategy,
        }
        token = self._fences.token(ref.ex_id)
        if token != UNFENCED:
            params["lease_token"] = token
        try:
            self._ids[ref.ex_id] = await self._cache.register_process(
                PROCESS_TYPE,
                account_component(ref.venue, ref.ex_id),
                params,
                "starting",
                "starting",
                token=None if token == UNFENCED else token,
            )
        except AccountServiceError as e:
            _log.warning("process registration failed", ex_id=ref.ex_id, error=str(e))

    async def beat(self, ex_id: int, *, force: bool = False) -> None:
        process_id = self._ids.get(ex_id)
        now = self._clock()
        if process_id is None or (not force and now - self._last.get(ex_id, -1e18) < self._interval):
            return
        status, message = self._ctx.status.get(ex_id, ("running", "collecting"))
        try:
            await self._cache.update_process(process_id, status, message)
            self._last[ex_id] = now
        except AccountServiceError as e:
            _log.warning("process update failed", ex_id=ex_id, error=str(e))

    async def unregister(self, ex_id: int) -> None:
        process_id = self._ids.pop(ex_id, None)
        self._last.pop(ex_id, None)
        if process_id is not None:
            try:
                await self._cache.stop_process(process_id)
            except AccountServiceError as e:
                _log.warning("process stop failed", ex_id=ex_id, error=str(e))

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for ex_id in list(self._ids):
                await self.beat(ex_id)
            try:
                async with asyncio.timeout(min(self._interval / 3, 5.0)):
                    await stop.wait()
            except TimeoutError:
                pass
