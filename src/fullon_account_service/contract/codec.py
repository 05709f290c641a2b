"""Bytes on the bus: msgpack, chosen by measurement (see bench/RESULTS.md).

Encoder and decoder are built once at import and kept; decoding is strict about what a field
holds and every failure becomes a ``ContractError`` whose message says which field was wrong.
Fields this version does not know are ignored, and an event of a newer major schema version is
rejected with both versions named (see ``contract.events`` for the version scheme).
"""

from __future__ import annotations

import msgspec

from fullon_account_service.contract.events import (
    SCHEMA_MAJOR,
    SCHEMA_MINOR,
    SCHEMA_VERSION,
    Envelope,
    schema_major,
)
from fullon_account_service.errors import ContractError

MAX_EVENT_BYTES = 1 << 20

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Envelope)


def encode(envelope: Envelope) -> bytes:
    return _encoder.encode(envelope)


def decode(data: bytes) -> Envelope:
    if len(data) > MAX_EVENT_BYTES:
        raise ContractError(f"event of {len(data)} bytes exceeds the {MAX_EVENT_BYTES}-byte limit")
    try:
        envelope = _decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        raise ContractError(f"invalid event: {e}") from e
    if envelope.v != SCHEMA_VERSION and schema_major(envelope.v) > SCHEMA_MAJOR:
        raise ContractError(_newer_major(envelope.v))
    return envelope


def _newer_major(v: int) -> str:
    major, minor = schema_major(v), (v % 1000 if v >= 1000 else 0)
    return (
        f"event schema version {major}.{minor} (v={v}) is a newer major than this consumer's "
        f"{SCHEMA_MAJOR}.{SCHEMA_MINOR}: upgrade the sinks, then replay the dead letters"
    )


def validate(envelope: Envelope) -> Envelope:
    """Re-check an envelope built in code: Struct constructors do not run the bounds."""
    return decode(encode(envelope))
