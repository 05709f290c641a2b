"""Kraken's private-call checks: API-Key, API-Sign and the per-key nonce, plus WebSocket tokens.

The order of the checks follows Kraken: an unknown key is ``EAPI:Invalid key``, and so is a known
key whose signature does not verify (what live Kraken answers for a wrong secret, and what ccxt
maps to ``AuthenticationError``); a nonce that is not above the last
accepted one for that key is ``EAPI:Invalid nonce`` (and is not remembered, so a retry with a
fresh nonce works). Only a fully valid request moves the key's nonce forward.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from fullon_account_service.simulator.model import SimAccount, World

INVALID_KEY = "EAPI:Invalid key"
INVALID_NONCE = "EAPI:Invalid nonce"
INVALID_ARGUMENTS = "EGeneral:Invalid arguments"
TOKEN_TTL_S = 900


class AuthFailure(Exception):
    """A rejected private call; ``str(self)`` is Kraken's exact error string."""


def signature(secret: str, url_path: str, nonce: str, body: bytes) -> str:
    """Kraken's API-Sign: base64(HMAC-SHA512(b64decode(secret), path + SHA256(nonce + body)))."""
    digest = hashlib.sha256(nonce.encode() + body).digest()
    mac = hmac.new(base64.b64decode(secret), url_path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


@dataclass(slots=True)
class NonceBook:
    """Last accepted nonce per API key (Kraken's nonce window of 0)."""

    last: dict[str, int] = field(default_factory=dict)

    def accept(self, api_key: str, nonce: int) -> bool:
        if nonce <= self.last.get(api_key, 0):
            return False
        self.last[api_key] = nonce
        return True


@dataclass(slots=True)
class Authenticator:
    world: World
    nonces: NonceBook = field(default_factory=NonceBook)

    def check(self, url_path: str, api_key: str | None, api_sign: str | None, body: bytes) -> SimAccount:
        """The account behind a signed private call, or ``AuthFailure`` with Kraken's message."""
        account = self.world.account_by_key("kraken", api_key) if api_key else None
        if account is None:
            raise AuthFailure(INVALID_KEY)
        fields = dict(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))
        nonce = fields.get("nonce", "")
        if not nonce.isdigit():
            raise AuthFailure(INVALID_NONCE)
        try:
            expected = signature(account.secret, url_path, nonce, body)
        except (binascii.Error, ValueError):
            raise AuthFailure(INVALID_KEY) from None
        if not api_sign or not hmac.compare_digest(expected, api_sign):
            raise AuthFailure(INVALID_KEY)
        if not self.nonces.accept(account.api_key, int(nonce)):
            raise AuthFailure(INVALID_NONCE)
        return account


@dataclass(frozen=True, slots=True)
class Token:
    account: SimAccount
    issued_ms: int


@dataclass(slots=True)
class TokenBook:
    """WebSocket tokens from ``GetWebSocketsToken``: valid for a subscribe within 15 minutes."""

    world: World
    tokens: dict[str, Token] = field(default_factory=dict)

    def issue(self, account: SimAccount) -> str:
        now_ms = self.world.now_ms()
        expired = [t for t, e in self.tokens.items() if now_ms - e.issued_ms > TOKEN_TTL_S * 1000]
        for stale in expired:
            del self.tokens[stale]
        token = base64.b64encode(secrets.token_bytes(30)).decode()
        self.tokens[token] = Token(account, now_ms)
        return token

    def resolve(self, token: str | None) -> SimAccount | None:
        entry = self.tokens.get(token) if token else None
        if entry is None or self.world.now_ms() - entry.issued_ms > TOKEN_TTL_S * 1000:
            return None
        return entry.account
