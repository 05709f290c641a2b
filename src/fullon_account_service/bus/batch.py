"""What a consumer hands its handler, and the decoding and regrouping of entries around it.

Kept apart from ``consumer`` so the policy there reads as policy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from itertools import repeat

import msgspec

from fullon_account_service.bus.reader import RawEntry, Rejected, StreamEntries
from fullon_account_service.contract import Envelope, decode
from fullon_account_service.errors import ContractError


class Delivery(msgspec.Struct, frozen=True, gc=False):
    """One decoded entry handed to the handler.

    A Struct rather than a frozen dataclass: one is built per entry, and a frozen dataclass costs
    about ten times as much to build. ``gc=False`` is safe because it only holds str, int and an
    envelope, which never refer back to it.
    """

    stream: str
    entry_id: str
    envelope: Envelope
    deliveries: int


Handler = Callable[[Sequence[Delivery]], Awaitable[None]]
Prepare = Callable[[Sequence[Delivery]], Awaitable[None]]
"""Called with a batch read ahead, before the handler gets that very list: work done here
overlaps the store of the batch before it. Must not store anything."""
Batch = tuple[list[StreamEntries], list[Delivery], list[Rejected]]
"""A decoded batch: (kept parts, deliveries, rejected)."""


@dataclass(slots=True)
class Held:
    """Entries read but not stored because the store failed them all; handled again, first in the
    next batch, without being read again."""

    parts: list[StreamEntries]
    deliveries: list[Delivery]


def regroup(entries: list[RawEntry]) -> list[StreamEntries]:
    """Entries back into column sets, one per run of consecutive entries of a stream, so the
    parts list them in the order given (held entries, off the hot path)."""
    parts: list[StreamEntries] = []
    for entry in entries:
        if not parts or parts[-1].stream != entry.stream:
            parts.append(StreamEntries(entry.stream, [], [], []))
        part = parts[-1]
        part.ids.append(entry.raw_id)
        part.payloads.append(entry.payload)
        part.deliveries.append(entry.deliveries)
    return parts


def decode_part(part: StreamEntries, rejected: list[Rejected]) -> tuple[StreamEntries, list[Envelope]]:
    """Decode a stream's entries; the undecodable ones go to ``rejected`` and out of the part.

    The whole list in one comprehension first, the common case; only when an entry fails is the
    part decoded again one entry at a time to find which.
    """
    try:
        return part, [decode(payload) for payload in part.payloads]
    except ContractError:
        pass
    keep: list[int] = []
    envelopes: list[Envelope] = []
    for i, payload in enumerate(part.payloads):
        try:
            envelopes.append(decode(payload))
        except ContractError as e:
            rejected.append(Rejected(part.entry(i), f"undecodable: {e}"))
        else:
            keep.append(i)
    return part.subset(keep), envelopes


def decode_parts(parts: list[StreamEntries]) -> Batch:
    """The entries of ``parts`` the codec accepted, as (kept parts, deliveries, rejected).

    Every entry is decoded, strictly, before the handler sees any: a sink never writes from bytes
    the contract did not accept.
    """
    accepted: list[StreamEntries] = []
    deliveries: list[Delivery] = []
    rejected: list[Rejected] = []
    for part in parts:
        kept, envelopes = decode_part(part, rejected)
        accepted.append(kept)
        ids = map(bytes.decode, kept.ids)
        deliveries += map(Delivery, repeat(kept.stream), ids, envelopes, kept.deliveries)
    return accepted, deliveries, rejected
