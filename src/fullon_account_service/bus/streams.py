"""Stream names, the entry layout and stream-id arithmetic shared by producers, sinks and ``tail``.

One stream per event kind keeps a slow sink of one kind from holding back the others and lets a
sink subscribe to exactly what it stores. Every entry has a single field, ``e``, holding the codec
bytes: the envelope already carries everything, so a second copy in Redis fields would only drift.
"""

from __future__ import annotations

from fullon_account_service.contract import KINDS
from fullon_account_service.errors import ContractError

ENTRY_FIELD = b"e"
DEAD_LETTER_SUFFIX = "dead"
MAX_SEQ = (1 << 64) - 1


def stream_key(prefix: str, kind: str) -> str:
    if kind not in KINDS:
        raise ContractError(f"unknown event kind {kind!r}: expected one of {', '.join(KINDS)}")
    return f"{prefix}{kind}"


def dead_letter_key(prefix: str) -> str:
    return f"{prefix}{DEAD_LETTER_SUFFIX}"


def parse_id(entry_id: str) -> tuple[int, int]:
    """``"1700000000000-3"`` -> ``(1700000000000, 3)``; a bare millisecond part means sequence 0."""
    ms, _, seq = entry_id.partition("-")
    try:
        parsed = int(ms), int(seq or 0)
    except ValueError as e:
        raise ValueError(f"not a stream id: {entry_id!r}") from e
    if parsed[0] < 0 or not 0 <= parsed[1] <= MAX_SEQ:
        raise ValueError(f"not a stream id: {entry_id!r}")
    return parsed


def format_id(ms: int, seq: int) -> str:
    return f"{ms}-{seq}"


def next_id(entry_id: str) -> str:
    """The smallest id greater than ``entry_id``: used as an inclusive lower bound (XTRIM MINID)."""
    ms, seq = parse_id(entry_id)
    return format_id(ms + 1, 0) if seq == MAX_SEQ else format_id(ms, seq + 1)


def previous_id(entry_id: str) -> str:
    """The largest id smaller than ``entry_id``: turns XREAD's exclusive start into an inclusive one."""
    ms, seq = parse_id(entry_id)
    if seq > 0:
        return format_id(ms, seq - 1)
    if ms > 0:
        return format_id(ms - 1, MAX_SEQ)
    return "0-0"
