"""Strict decoding: every kind of bad input is rejected with a ContractError naming the field."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest

from factories import NOW_MS, balance, envelope, fill, order, position
from fullon_account_service.contract import (
    BalanceSnapshot,
    CurrencyBalance,
    Source,
    decode,
    encode,
)
from fullon_account_service.contract.codec import MAX_EVENT_BYTES
from fullon_account_service.errors import ContractError

PAYLOADS: dict[str, Any] = {
    "balance": balance(total=10.0, free=7.5, used=2.5),
    "order": order(filled=0.5),
    "position": position(unrealized_pnl=-3.0),
    "trade": fill(),
}


def envelope_dict(kind: str) -> dict[str, Any]:
    result: dict[str, Any] = msgspec.to_builtins(envelope(PAYLOADS[kind], received_ms=NOW_MS + 100))
    return result


def reject(data: dict[str, Any], *expected: str) -> str:
    with pytest.raises(ContractError) as info:
        decode(msgspec.msgpack.encode(data))
    message = str(info.value)
    for part in expected:
        assert part in message, message
    return message


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_valid_dicts_decode(kind: str) -> None:
    assert decode(msgspec.msgpack.encode(envelope_dict(kind))).kind == kind


@pytest.mark.parametrize(
    ("kind", "path", "value", "where"),
    [
        ("order", ("ex_id",), "7", "$.ex_id"),
        ("order", ("payload", "price"), "100", "$.payload.price"),
        ("order", ("payload", "side"), 1, "$.payload.side"),
        ("trade", ("payload", "time_ms"), 1.5, "$.payload.time_ms"),
        ("balance", ("payload", "balances"), [], "$.payload.balances"),
        ("position", ("payload", "positions", 0, "volume"), None, "$.payload.positions[0].volume"),
        ("trade", ("received_ms",), None, "$.received_ms"),
    ],
)
def test_wrong_types(kind: str, path: tuple[Any, ...], value: Any, where: str) -> None:
    data = envelope_dict(kind)
    set_path(data, path, value)
    reject(data, "Expected", where)


BAD_NUMBERS = [math.nan, math.inf, -math.inf]
NUMBER_FIELDS = [
    ("order", ("payload", "price")),
    ("order", ("payload", "filled")),
    ("trade", ("payload", "cost")),
    ("balance", ("payload", "balances", "USDT", "free")),
    ("position", ("payload", "positions", 0, "unrealized_pnl")),
    ("position", ("payload", "positions", 0, "volume")),
]


@pytest.mark.parametrize("value", BAD_NUMBERS, ids=["nan", "+inf", "-inf"])
@pytest.mark.parametrize(("kind", "path"), NUMBER_FIELDS)
def test_nan_and_infinities(kind: str, path: tuple[Any, ...], value: float) -> None:
    data = envelope_dict(kind)
    set_path(data, path, value)
    reject(data, path_text(path))


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("order", ("payload", "volume")),
        ("order", ("payload", "remaining")),
        ("trade", ("payload", "volume")),
        ("trade", ("payload", "fee")),
        ("balance", ("payload", "balances", "USDT", "total")),
        ("position", ("payload", "positions", 0, "volume")),
    ],
)
def test_negative_quantities(kind: str, path: tuple[Any, ...]) -> None:
    data = envelope_dict(kind)
    set_path(data, path, -1.0)
    reject(data, ">= 0", path_text(path))


def test_signed_fields_accept_negatives() -> None:
    data = envelope_dict("position")
    set_path(data, ("payload", "positions", 0, "unrealized_pnl"), -1e9)
    assert decode(msgspec.msgpack.encode(data)).kind == "position"


@pytest.mark.parametrize(
    ("kind", "path", "value"),
    [
        ("order", ("payload", "side"), "long"),
        ("order", ("payload", "status"), "pending"),
        ("trade", ("source",), "fix"),
        ("trade", ("payload", "liquidity"), "hidden"),
        ("position", ("payload", "positions", 0, "side"), "both"),
    ],
)
def test_unknown_enum_values(kind: str, path: tuple[Any, ...], value: str) -> None:
    data = envelope_dict(kind)
    set_path(data, path, value)
    reject(data, "Invalid enum value", repr(value), path_text(path))


def test_unknown_kind_tag() -> None:
    data = envelope_dict("order")
    data["payload"]["kind"] = "withdrawal"
    reject(data, "withdrawal")


def test_newer_major_schema_version_rejected() -> None:
    data = envelope_dict("trade")
    data["v"] = 99
    reject(data, "newer major", "99.0", "upgrade the sinks")


def test_oversized_payload_rejected_before_parsing() -> None:
    with pytest.raises(ContractError, match="exceeds"):
        decode(b"\x00" * (MAX_EVENT_BYTES + 1))


def test_oversized_but_valid_event_rejected() -> None:
    many = {f"C{i:07d}": CurrencyBalance(total=1.0) for i in range(40_000)}
    payload = BalanceSnapshot(balances=many)
    data = encode(envelope(payload, ex_id=1, source=Source.REST, exchange_ms=None, received_ms=1))
    assert len(data) > MAX_EVENT_BYTES
    with pytest.raises(ContractError, match="exceeds"):
        decode(data)


@pytest.mark.parametrize("data", [b"", b"\xc1", b"not msgpack at all", msgspec.msgpack.encode([1, 2])])
def test_garbage_bytes(data: bytes) -> None:
    with pytest.raises(ContractError, match="invalid event"):
        decode(data)


def set_path(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


def path_text(path: tuple[Any, ...]) -> str:
    text = "$"
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if part != "USDT" else "[...]"
    return text
