"""Ledger rows a venue pushes on its private streams, taken from the frames as ccxt reads them.

ccxt hands none of them to a ``watch_*`` call: its Bybit ``execution`` handler drops ``Funding``
rows, its Kraken ``balances`` handler keeps the totals only, and it never subscribes to
Hyperliquid's ``userFundings`` / ``userNonFundingLedgerUpdates``. So the guarded client
(``ws_guard``) shows every frame, after ccxt handled it, to the venue's ``normalise.ws_ledger``,
which returns the frame's ledger rows in the shape its ``ledger_fixes`` reads. They wait in a
bounded buffer on the client (``MAX_BUFFERED_ROWS``; the oldest go first, and the REST read that
follows every reconnect and audit brings back whatever was dropped) until ``watch_ledger`` takes
them. ``watch_ledger`` sends the venue's own subscriptions (``reads.ledger_streams``; none where
the rows ride a channel another watch subscribes to) and waits: on the subscription's future where
there is one, so a dropped socket fails the wait like any ``watch_*``; else on the buffer.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from fullon_account_service.producers.venues import adapter_for

MESSAGE_HASH = "fullon:ledger"
MAX_BUFFERED_ROWS = 1_000

LedgerTap = Callable[[Any], list[dict[str, Any]]]
"""A parsed frame -> the ledger rows it carries (``[]`` for most frames)."""


class LedgerBuffer:
    """Rows taken from frames and not yet handed to ``watch_ledger``; set on the client."""

    def __init__(self, tap: LedgerTap, limit: int = MAX_BUFFERED_ROWS) -> None:
        self.tap = tap
        self.rows: deque[dict[str, Any]] = deque(maxlen=limit)
        self.arrived = asyncio.Event()

    def feed(self, ws_client: Any, message: Any) -> None:
        rows = self.tap(message)
        if not rows:
            return
        self.rows.extend(rows)
        self.arrived.set()
        ws_client.resolve(True, MESSAGE_HASH)

    def take(self) -> list[dict[str, Any]]:
        rows = list(self.rows)
        self.rows.clear()
        return rows


def tap_for(client: Any, venue: str) -> LedgerTap:
    """The venue's reading of a frame's ledger rows, with the client's currency codes."""
    read = adapter_for(venue).normalise.ws_ledger
    code = client.safe_currency_code
    return lambda message: read(message, code) if isinstance(message, dict) else []


async def watch_ledger(client: Any, venue: str) -> list[dict[str, Any]]:
    """The next ledger rows the venue pushed (at once if some are waiting)."""
    buffer: LedgerBuffer | None = getattr(client, "_fullon_ledger", None)
    if buffer is None:
        raise RuntimeError("client has no ledger buffer (ws_guard.attach installs one)")
    while True:
        buffer.arrived.clear()
        rows = buffer.take()
        if rows:
            return rows
        streams = adapter_for(venue).reads.ledger_streams(client)
        if streams:
            futures = [client.watch(url, MESSAGE_HASH, request, sub) for url, request, sub in streams]
            await futures[-1]
        else:
            await buffer.arrived.wait()
