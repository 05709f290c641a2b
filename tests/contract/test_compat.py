"""Rolling upgrades: what a newer producer writes is read by this consumer, unless it is a new major."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

import factories
from factories import NOW_MS, fill
from fullon_account_service.contract import (
    SCHEMA_VERSION,
    BalanceSnapshot,
    CurrencyBalance,
    Envelope,
    decode,
    encode,
)
from fullon_account_service.contract.events import Side, schema_major
from fullon_account_service.errors import ContractError

FILL = fill(side=Side.BUY)


def envelope(payload: Any) -> Envelope:
    return factories.envelope(payload, received_ms=NOW_MS + 100)


def newer_producer_bytes(original: Envelope, v: int) -> bytes:
    """What a producer one schema ahead writes: extra keys at every level, and its own ``v``."""
    data: dict[str, Any] = msgspec.to_builtins(original)
    data["v"] = v
    data["trace_id"] = "abc-123"
    data["payload"]["venue_sequence"] = 42
    data["payload"]["rebate"] = {"amount": 0.01, "currency": "USDT"}
    for balance in data["payload"].get("balances", {}).values():
        balance["borrowed"] = 0.0
    return msgspec.msgpack.encode(data)


def test_this_producer_still_writes_the_first_schema_version() -> None:
    """Today's consumers accept ``v`` 1 only: a producer of this version must not break them."""
    assert SCHEMA_VERSION == 1
    assert msgspec.msgpack.decode(encode(envelope(FILL)))["v"] == 1


BALANCE = BalanceSnapshot(balances={"USDT": CurrencyBalance(total=1.0)})


@pytest.mark.parametrize("v", [1, 1000, 1001, 1999])
@pytest.mark.parametrize("payload", [FILL, BALANCE], ids=["trade", "balance"])
def test_added_fields_of_a_minor_version_are_ignored(payload: Any, v: int) -> None:
    original = envelope(payload)
    decoded = decode(newer_producer_bytes(original, v))
    assert msgspec.structs.replace(decoded, v=original.v) == original
    assert decoded.v == v


@pytest.mark.parametrize(("v", "shown"), [(2, "2.0"), (2000, "2.0"), (2003, "2.3"), (31001, "31.1")])
def test_a_newer_major_is_rejected_naming_both_versions(v: int, shown: str) -> None:
    with pytest.raises(ContractError) as info:
        decode(newer_producer_bytes(envelope(FILL), v))
    message = str(info.value)
    assert f"event schema version {shown}" in message
    assert "newer major than this consumer's 1.0" in message
    assert "upgrade the sinks" in message


def test_schema_major_reads_both_forms() -> None:
    assert [schema_major(v) for v in (1, 2, 999, 1000, 1001, 2005)] == [1, 2, 999, 1, 1, 2]
