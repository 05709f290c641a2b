"""Bytes on the bus: msgpack, chosen by measurement (see bench/RESULTS.md).

Encoder and decoder are built once at import and kept; decoding is strict and every failure
becomes a ``ContractError`` whose message says which field was wrong.
"""

from __future__ import annotations

import msgspec

from fullon_account_service.contract.events import Envelope
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
        return _decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        raise ContractError(f"invalid event: {e}") from e


def validate(envelope: Envelope) -> Envelope:
    """Re-check an envelope built in code: Struct constructors do not run the bounds."""
    return decode(encode(envelope))
