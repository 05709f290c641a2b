"""ccxt exceptions -> our error tree, at the one boundary where producers call ccxt.

    AuthenticationError, PermissionDenied, AccountSuspended  -> CredentialsError (account in error)
    RateLimitExceeded, DDoSProtection (siblings in ccxt)     -> RateLimited (Retry-After when sent)
    NetworkError, InvalidNonce, other ExchangeError          -> TransientError (retry later)
    NotSupported, BadSymbol, BadRequest, ArgumentsRequired   -> FatalError

Messages are redacted: ccxt sometimes echoes request details, and a key must never ride along.
"""

from __future__ import annotations

from typing import Any

import ccxt

from fullon_account_service.errors import (
    AccountServiceError,
    CredentialsError,
    FatalError,
    RateLimited,
    TransientError,
)
from fullon_account_service.redaction import redact_text

_MAX_MESSAGE = 300


def retry_after_s(client: Any) -> float | None:
    """Seconds from the last response's ``Retry-After`` header, if the venue sent one."""
    headers = getattr(client, "last_response_headers", None) or {}
    for name, value in dict(headers).items():
        if str(name).lower() == "retry-after":
            try:
                seconds = float(value)
            except (TypeError, ValueError):
                return None
            return seconds if seconds >= 0 else None
    return None


def translate(err: Exception, action: str, client: Any = None) -> AccountServiceError:
    """Our error for a ccxt (or unexpected) exception raised while doing ``action``."""
    text = redact_text(f"{action}: {type(err).__name__}: {err}")[:_MAX_MESSAGE]
    if isinstance(err, ccxt.AuthenticationError | ccxt.PermissionDenied | ccxt.AccountSuspended):
        return CredentialsError(text)
    if isinstance(err, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
        return RateLimited(text, retry_after_s(client) if client is not None else None)
    if isinstance(err, ccxt.NotSupported | ccxt.BadSymbol | ccxt.BadRequest | ccxt.ArgumentsRequired):
        return FatalError(text)
    if isinstance(err, ccxt.BaseError):
        return TransientError(text)
    if isinstance(err, AccountServiceError):
        return err
    return TransientError(text)
