"""REST reads of a plain ccxt venue: one balance call and one positions call cover the account,
and ``fetch_order`` looks one order up by id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fullon_account_service.producers.order_query import call_for_order, match

if TYPE_CHECKING:
    from fullon_account_service.producers.calls import VenueCalls
    from fullon_account_service.producers.open_orders import TrackedOrder


def balance_params() -> list[dict[str, Any]]:
    return [{}]


def wallets(client: Any) -> tuple[tuple[str, ...], str | None] | None:
    return None


def position_params(markets: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{}]


async def query_order(session: VenueCalls, order_id: str, tracked: TrackedOrder) -> dict[str, Any] | None:
    return match(await call_for_order(session, "fetch_order", order_id, tracked.symbol or None), order_id)


def ledger_streams(client: Any) -> list[tuple[str, dict[str, Any], str]]:
    return []
