"""Order and trade ids in each venue's own format, derived from (seed, account, counter).

Deterministic so that the same seed replays to the same ground truth, and shaped like the real
venue's ids so renderers and ccxt parse them without special cases: Kraken ``OXXXXX-XXXXX-XXXXXX``
/ ``TXXXXX-XXXXX-XXXXXX``, Bybit UUIDs, Hyperliquid integers (as decimal strings, JSON-safe < 2**53).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Literal

IdKind = Literal["order", "trade", "funding"]

_KRAKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def _digest(seed: int, venue: str, index: int, kind: IdKind, n: int) -> bytes:
    return hashlib.sha256(f"{seed}|{venue}|{index}|{kind}|{n}".encode()).digest()


def _kraken(digest: bytes, kind: IdKind) -> str:
    chars = "".join(_KRAKEN_ALPHABET[b % len(_KRAKEN_ALPHABET)] for b in digest[:16])
    head = ("O" if kind == "order" else "T") + chars[:5]
    return f"{head}-{chars[5:10]}-{chars[10:16]}"


def _hyperliquid(seed: int, index: int, kind: IdKind, n: int) -> str:
    base = 10**13 if kind == "order" else 10**15
    return str(base + (seed % 100) * 10**11 + index * 10**8 + n)


def make_id(seed: int, venue: str, index: int, kind: IdKind, n: int) -> str:
    """The ``n``-th id of ``kind`` for account ``index`` of ``venue``; unique per (venue, kind)."""
    if venue == "hyperliquid":
        return _hyperliquid(seed, index, kind, n)
    digest = _digest(seed, venue, index, kind, n)
    if venue == "kraken":
        return _kraken(digest, kind)
    return str(uuid.UUID(bytes=digest[:16], version=4))
