"""Keeps secrets out of every text this service writes.

Credentials are registered here the moment they are resolved; ``redact`` then replaces each
registered value wherever it appears (log fields, exception messages, status text). Field names
that look secret are masked even before a value was registered.
"""

from __future__ import annotations

import re
import threading
from typing import Any

MASK = "***"
_MIN_SECRET_LEN = 6
_SECRET_FIELD = re.compile(r"(secret|password|passphrase|private_?key|api_?key|apikey|token|signature)", re.I)

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    if value and len(value) >= _MIN_SECRET_LEN:
        with _lock:
            _secrets.add(value)


def redact_text(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact(value: Any, field: str | None = None) -> Any:
    """Recursively mask secrets in a value about to leave the process."""
    if field is not None and _SECRET_FIELD.search(field) and value not in (None, ""):
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact(v) for v in value)
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}")
    return value
