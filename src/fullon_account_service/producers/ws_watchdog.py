"""The watchdog of one account's WebSocket side: silent sockets.

A socket that read no frame at all (data, ack or pong) for ``Timing.ws_silence_s``
(``ACCOUNT_WS_SILENCE_S``) is stuck: ccxt pings it every few seconds and a live venue answers.
The socket is failed with a ``RequestTimeout``, which rejects the pending ``watch_*`` calls; their
loops take the reconnect path, which re-subscribes and requests a REST reconciliation. The
threshold is never below 1.5x the venue's ping interval (ccxt's ``keepAlive``), so an idle
account whose venue pings rarely is not cut.

A kind whose stream says nothing while its socket answers is not watched here: an account that
does not trade is quiet on every stream, forever, and cannot be told from a subscription the
venue dropped; polling every quiet kind at the fast pace would read the balance, fills and orders
of every idle account every few seconds. The REST audits (``ACCOUNT_AUDIT_INTERVAL_S``) are what
catch a stream that went quiet without closing.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import ccxt

from fullon_account_service.logs import get_logger
from fullon_account_service.producers import ws_guard
from fullon_account_service.producers.context import Timing
from fullon_account_service.producers.session import AccountSession

_log = get_logger("producers.ws_watchdog")


def socket_threshold_s(ws_client: Any, timing: Timing) -> float:
    keepalive_ms = getattr(ws_client, "keepAlive", 0) or 0
    return max(timing.ws_silence_s, 1.5 * float(keepalive_ms) / 1000)


def silent_sockets(client: Any, timing: Timing, now: float) -> list[tuple[Any, float]]:
    """Open sockets of ``client`` that read nothing for longer than their threshold, with the
    seconds they have been silent."""
    stamps = ws_guard.last_frames(client)
    found = []
    for url, ws_client in list((getattr(client, "clients", None) or {}).items()):
        if ws_client.closed() or url not in stamps:
            continue
        silent = now - stamps[url]
        if silent > socket_threshold_s(ws_client, timing):
            found.append((ws_client, silent))
    return found


async def watchdog(session: AccountSession, timing: Timing) -> None:
    tick = max(timing.ws_silence_s / 4, 0.05)
    while True:
        await asyncio.sleep(tick)
        now = time.monotonic()
        for ws_client, silent in silent_sockets(session.client, timing, now):
            _log.warning(
                "websocket silent; reconnecting",
                ex_id=session.ref.ex_id,
                venue=session.ref.venue,
                silent_s=round(silent, 1),
            )
            ws_guard.touch(session.client, ws_client.url, now)
            ws_client.on_error(ccxt.RequestTimeout(f"no frame for {silent:.1f}s"))
            session.request_reconcile()
