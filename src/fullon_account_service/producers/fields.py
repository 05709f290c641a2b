"""Field readers for ccxt's unified dicts: strict where the contract is strict.

ccxt returns ``None`` for what a venue did not send and numbers as floats (occasionally strings).
A reader returns ``None`` for absent values and raises ``ContractError`` for values that are
present but unusable (NaN, infinite, negative quantities, garbage), so the caller dead-letters
the payload with that reason instead of publishing a made-up number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from fullon_account_service.contract import CurrencyBalance
from fullon_account_service.errors import ContractError

_MAX_TEXT = 256
_BALANCE_META = frozenset({"info", "timestamp", "datetime", "free", "used", "total", "debt"})


def number(row: dict[str, Any], field: str, *, signed: bool = False) -> float | None:
    value = row.get(field)
    if value is None or value == "":
        return None
    try:
        result = float(value)
    except (TypeError, ValueError) as e:
        raise ContractError(f"{field}={value!r} is not a number") from e
    if not math.isfinite(result):
        raise ContractError(f"{field}={value!r} is not finite")
    if not signed and result < 0:
        raise ContractError(f"{field}={value!r} is negative")
    return result


def required_number(row: dict[str, Any], field: str, *, signed: bool = False) -> float:
    result = number(row, field, signed=signed)
    if result is None:
        raise ContractError(f"{field} is missing")
    return result


def text(row: dict[str, Any], field: str) -> str | None:
    value = row.get(field)
    if value is None or value == "":
        return None
    result = str(value)
    if len(result) > _MAX_TEXT:
        raise ContractError(f"{field} is longer than {_MAX_TEXT} characters")
    return result


def required_text(row: dict[str, Any], field: str) -> str:
    result = text(row, field)
    if result is None:
        raise ContractError(f"{field} is missing")
    return result


def timestamp_ms(row: dict[str, Any], field: str) -> int | None:
    value = number(row, field)
    return None if value is None else int(value)


def positive_or_none(value: float | None) -> float | None:
    """Leverage and similar: zero means "not reported" on every venue we read."""
    return value if value is not None and value > 0 else None


def balance_rows(balance: Mapping[str, Any]) -> tuple[dict[str, CurrencyBalance], list[str]]:
    """Per-currency balances of a unified balance dict, and the reasons for rows left out."""
    rows: dict[str, CurrencyBalance] = {}
    rejected: list[str] = []
    for code, value in balance.items():
        if code in _BALANCE_META or not isinstance(value, dict):
            continue
        try:
            rows[str(code)] = CurrencyBalance(
                total=number(value, "total"), free=number(value, "free"), used=number(value, "used")
            )
        except ContractError as e:
            rejected.append(f"{code}: {e}")
    return rows, rejected
