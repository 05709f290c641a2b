"""Dead letters for what a venue sent that could not be used: a bad WebSocket frame, or a message
whose handling failed. The payload is redacted and capped, the reason names the account and says
what went wrong, so ``fullon-account tail --dlq`` shows enough to act on and never a secret.
"""

from __future__ import annotations

import json
from typing import Any

from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.normalise import DeadPayload
from fullon_account_service.redaction import redact, redact_text

MAX_PAYLOAD_BYTES = 16 * 1024
_MAX_ERROR_CHARS = 300


def _error_text(error: BaseException) -> str:
    return redact_text(f"{type(error).__name__}: {error}")[:_MAX_ERROR_CHARS]


def _capped(data: bytes) -> bytes:
    return data[:MAX_PAYLOAD_BYTES]


def frame_dead_letter(ref: AccountRef, url: str, error: BaseException, data: Any) -> DeadPayload:
    """A frame ccxt could not read (``data`` is its raw text or bytes)."""
    if isinstance(data, bytes | bytearray):
        text = bytes(data).decode(errors="replace")
    else:
        text = data if isinstance(data, str) else repr(data)
    reason = f"bad websocket frame: {ref.venue} ex_id={ref.ex_id} {url}: {_error_text(error)}"
    return DeadPayload(reason=reason, payload=_capped(redact_text(text).encode()))


def message_dead_letter(ref: AccountRef, kind: str, error: BaseException, message: Any) -> DeadPayload:
    """A ``watch_*`` result whose handling raised (a parser or normaliser bug, not a bad value:
    bad values are dead-lettered by the normaliser with their own reason)."""
    reason = f"websocket {kind} message not handled: {ref.venue} ex_id={ref.ex_id}: {_error_text(error)}"
    plain = list(message) if isinstance(message, list | tuple) else message  # ccxt's caches are lists
    try:
        body = json.dumps(redact(plain), default=str, sort_keys=True)
    except (TypeError, ValueError):
        body = redact_text(repr(plain))
    return DeadPayload(reason=reason, payload=_capped(body.encode()))


def preview(payload: bytes, limit: int = 300) -> str:
    """The start of a (redacted) dead payload, for a log line."""
    return payload[:limit].decode(errors="replace")
