"""Order and trade ids in each venue's own format, derived from (seed, account, counter).

Deterministic so that the same seed replays to the same ground truth, and shaped like the real
venue's ids so renderers and ccxt parse them without special cases: Kraken ``OXXXXX-XXXXX-XXXXXX``
/ ``TXXXXX-XXXXX-XXXXXX`` / ledger ``LXXXXX-XXXXX-XXXXXX``, Bybit UUIDs, Hyperliquid integers (as
decimal strings, JSON-safe < 2**53) and, for its ledger updates, transaction hashes (``0x`` + 64 hex).
Hyperliquid's funding rows carry the all-zero hash, so their id is ``hyperliquid_funding_id``.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Literal

IdKind = Literal["order", "trade", "ledger"]

_KRAKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def _digest(seed: int, venue: str, index: int, kind: IdKind, n: int) -> bytes:
    return hashlib.sha256(f"{seed}|{venue}|{index}|{kind}|{n}".encode()).digest()


def _kraken(digest: bytes, kind: IdKind) -> str:
    chars = "".join(_KRAKEN_ALPHABET[b % len(_KRAKEN_ALPHABET)] for b in digest[:16])
    head = {"order": "O", "trade": "T", "ledger": "L"}[kind] + chars[:5]
    return f"{head}-{chars[5:10]}-{chars[10:16]}"


def _hyperliquid(seed: int, index: int, kind: IdKind, n: int) -> str:
    base = 10**13 if kind == "order" else 10**15
    return str(base + (seed % 100) * 10**11 + index * 10**8 + n)


def make_id(seed: int, venue: str, index: int, kind: IdKind, n: int) -> str:
    """The ``n``-th id of ``kind`` for account ``index`` of ``venue``; unique per (venue, kind)."""
    digest = _digest(seed, venue, index, kind, n)
    if venue == "hyperliquid":
        return "0x" + digest.hex() if kind == "ledger" else _hyperliquid(seed, index, kind, n)
    if venue == "kraken":
        return _kraken(digest, kind)
    return str(uuid.UUID(bytes=digest[:16], version=4))


def hyperliquid_funding_id(coin: str, time_ms: int) -> str:
    """A Hyperliquid funding payment's id: the venue gives none (its ``hash`` is all zeros), and one
    account is funded once per coin at a time, so ``coin`` and ``time`` name it."""
    return f"{coin}:{time_ms}"
