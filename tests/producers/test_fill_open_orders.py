"""A fill over WebSocket asks REST for the open orders unless the venue's order stream already said
what that read would (Bybit's ``order`` topic pushes every partial fill) and is up: with that
stream down, silent or left to REST, and on venues whose partial fills travel on the trade channel
only (Kraken), the read is still asked for."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from test_venue_shapes_bybit import _execution, _ws
from venue_shapes import Venue, venue

from fullon_account_service.contract import Envelope
from fullon_account_service.producers.clock_skew import ClockSkew
from fullon_account_service.producers.reconcile import OPEN_ORDERS
from fullon_account_service.producers.session import AccountSession
from fullon_account_service.producers.venues import adapter_for
from fullon_account_service.producers.ws_messages import MessageHandlers


@pytest.fixture
async def bybit() -> Any:
    async with venue("bybit") as v:
        yield v


async def _fill_over_ws(
    bybit: Venue, *, orders_on_ws: bool = True, down: set[str] | None = None
) -> AccountSession:
    """One fresh Bybit fill through the WebSocket handler; the session it left."""
    ref = bybit.normaliser.ref
    session = AccountSession(ref, bybit.exchange, bybit.normaliser, asyncio.Lock())
    session.fast_poll |= down or set()
    published: list[Envelope] = []

    async def publish(envelopes: list[Envelope], dead: object) -> None:
        published.extend(envelopes)

    context = SimpleNamespace(
        registry=SimpleNamespace(get=lambda ex_id: session),
        outbox=SimpleNamespace(publish=publish),
        reconciler=SimpleNamespace(skew=ClockSkew(30_000)),
        detector=SimpleNamespace(capabilities=lambda r: {"orders": orders_on_ws, "my_trades": True}),
    )
    handlers = MessageHandlers(context)  # type: ignore[arg-type]
    await handlers.on_trade_update(ref, [bybit.exchange.parse_trade(_ws(_execution()))])
    assert len(published) == 1, "the fill reached the bus"
    assert session.changed_since_audit, "a fill still brings the next audit forward"
    return session


async def test_a_bybit_fill_with_its_order_stream_up_asks_rest_for_nothing(bybit: Venue) -> None:
    session = await _fill_over_ws(bybit)
    assert OPEN_ORDERS not in session.rest_once and not session.wake_poller.is_set()


async def test_a_bybit_fill_with_its_order_stream_down_asks_for_the_open_orders(bybit: Venue) -> None:
    assert OPEN_ORDERS in (await _fill_over_ws(bybit, down={"orders"})).rest_once
    assert OPEN_ORDERS in (await _fill_over_ws(bybit, orders_on_ws=False)).rest_once


def test_only_venues_whose_order_stream_reports_fills_skip_the_read() -> None:
    assert adapter_for("bybit").quirks.ws_orders_report_fills
    for name in ("kraken", "hyperliquid", "binance"):
        assert not adapter_for(name).quirks.ws_orders_report_fills, name
