"""Stream names, the entry layout and stream-id arithmetic shared by producers, sinks and ``tail``.

One stream per event kind keeps a slow sink of one kind from holding back the others and lets a
sink subscribe to exactly what it stores. Every entry has a single field, ``e``, holding the codec
bytes: the envelope already carries everything, so a second copy in Redis fields would only drift.

Partitions (``ACCOUNT_STREAM_PARTITIONS``): a kind's stream can be split in ``n`` streams, an
account's events all going to partition ``ex_id % n``, so each account keeps its order while the
load spreads over a Redis Cluster's nodes. One partition is the plain ``{prefix}{kind}`` stream.
With more, partition ``i`` of every kind is ``{prefix}{kind}:{<tag>}``: the hash tag is shared by
the kinds of one partition, so a consumer reads all its kinds of a partition in one XREADGROUP,
and it is picked so that partition ``i`` hashes into the ``i``-th of ``n`` equal slot ranges:
partitions land on different masters of a cluster whose slots are evenly split. Changing ``n``
moves accounts between streams: drain the streams first (``health`` shows no lag), or an
account's old and new events may be stored out of order.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from fullon_account_service.contract import KINDS
from fullon_account_service.errors import ContractError

ENTRY_FIELD = b"e"
DEAD_LETTER_SUFFIX = "dead"
MAX_SEQ = (1 << 64) - 1


def stream_key(prefix: str, kind: str) -> str:
    if kind not in KINDS:
        raise ContractError(f"unknown event kind {kind!r}: expected one of {', '.join(KINDS)}")
    return f"{prefix}{kind}"


@cache
def partition_tag(index: int, partitions: int) -> str:
    """The hash tag of partition ``index`` of ``partitions``: the first ``p<index>.<n>`` whose slot
    lies in the ``index``-th of ``partitions`` equal slot ranges."""
    n = 0
    while key_slot(f"p{index}.{n}".encode()) * partitions // REDIS_CLUSTER_HASH_SLOTS != index:
        n += 1
    return f"p{index}.{n}"


def partition_key(prefix: str, kind: str, index: int, partitions: int) -> str:
    """Partition ``index``'s stream of ``kind``; the plain stream when there is one partition."""
    key = stream_key(prefix, kind)
    return key if partitions == 1 else f"{key}:{{{partition_tag(index, partitions)}}}"


def account_stream_key(prefix: str, kind: str, ex_id: int, partitions: int) -> str:
    """The stream ``ex_id``'s events of ``kind`` go to: partition ``ex_id % partitions``. A reader
    of one account's events (``verify.stored_through``) must look there, not at the plain stream."""
    return partition_key(prefix, kind, ex_id % partitions, partitions)


def partition_keys(prefix: str, kind: str, partitions: int) -> tuple[str, ...]:
    """Every partition's stream of ``kind``, partition 0 first."""
    return tuple(partition_key(prefix, kind, i, partitions) for i in range(partitions))


def event_streams(prefix: str, kinds: Sequence[str], partitions: int) -> list[str]:
    """The streams of ``kinds`` (in that order), each with all its partitions."""
    return [key for kind in kinds for key in partition_keys(prefix, kind, partitions)]


def kind_of_stream(prefix: str, stream: str) -> str | None:
    """The event kind a stream of ``prefix`` carries (any partition), or None for another stream."""
    if not stream.startswith(prefix):
        return None
    kind = stream[len(prefix) :].split(":{", 1)[0]
    return kind if kind in KINDS else None


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
