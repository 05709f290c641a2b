"""A plain ccxt venue: ccxt's unified reading is taken as it is (see docs/fields.md).

No corrections of orders or fills; a WebSocket balance carries the currencies of the message with
the unified meaning; one wallet. A venue whose raw rows mean something else gets its own folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fullon_account_service.contract import CurrencyBalance
from fullon_account_service.errors import ContractError
from fullon_account_service.producers.fields import balance_rows
from fullon_account_service.producers.venues.adapter import CurrencyCode, WsBalance


def order_fixes(row: Mapping[str, Any], info: Mapping[str, Any], market: Mapping[str, Any]) -> dict[str, Any]:
    return {}


def trade_fixes(row: Mapping[str, Any], info: Mapping[str, Any], market: Mapping[str, Any]) -> dict[str, Any]:
    return {}


def ws_balance(
    balance: Mapping[str, Any], code: CurrencyCode, rest: Mapping[str, CurrencyBalance]
) -> WsBalance:
    rows, rejected = balance_rows(balance)
    if rejected:
        raise ContractError("; ".join(rejected))
    return rows, False


def rest_balance(balance: Mapping[str, Any]) -> dict[str, CurrencyBalance] | None:
    return None


def wallet_of(info: Any) -> str | None:
    return None
