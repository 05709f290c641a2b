"""Under WebSocket drops every fill reaches the bus with the fee and fee currency the venue charged,
whichever channel (WS or REST) saw it first, and every copy of a fill says the same; contract fills
carry the leverage their symbol had (or ``None`` before any position of it was seen, never a
wrong one)."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from producer_harness import (
    Binding,
    bind_accounts,
    check_truth,
    collecting,
    eventually,
    make_context,
    read_bus,
    trade_until,
)

from fullon_account_service.contract import TradeFill
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.model import Faults, SimFill
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator

CONFIG = ScenarioConfig(accounts_per_venue=2, seed=23, rate_per_s=60)


def charged(venue: str, fill: SimFill) -> tuple[float, str]:
    """What the venue reports for ``fill`` (docs/fields.md): Kraken states every fee in quote."""
    base, _, rest = fill.symbol.partition("/")
    quote = rest.split(":")[0]
    if venue == "kraken" and fill.fee_currency == base:
        return fill.fee * fill.price, quote
    return fill.fee, fill.fee_currency


def _close(a: float | None, b: float) -> bool:
    return a is not None and abs(a - b) <= 1e-9 * max(abs(b), 1.0)


async def _check_fees(redis: aioredis.Redis, prefix: str, bindings: list[Binding]) -> list[str]:
    copies: dict[tuple[int, str], set[tuple[float | None, str | None]]] = {}
    latest: dict[tuple[int, str], TradeFill] = {}
    for env in await read_bus(redis, prefix):
        if isinstance(env.payload, TradeFill):
            key = (env.ex_id, env.payload.ex_trade_id)
            copies.setdefault(key, set()).add((env.payload.fee, env.payload.fee_currency))
            latest[key] = env.payload
    wrong = [f"{key}: copies differ {seen}" for key, seen in copies.items() if len(seen) > 1]
    stamped = 0
    for b in bindings:
        for fill in b.account.fills:
            got = latest.get((b.ref.ex_id, fill.trade_id))
            fee, currency = charged(b.account.venue, fill)
            if got is not None and got.leverage is not None:
                stamped += 1
                if got.leverage != fill.leverage:
                    wrong.append(f"{fill.trade_id}: leverage {got.leverage} != {fill.leverage}")
            if got is None:
                wrong.append(f"{b.account.venue} {fill.trade_id} missing")
            elif got.fee_currency != currency or not _close(got.fee, fee):
                wrong.append(
                    f"{b.account.venue} {fill.trade_id}: {got.fee} {got.fee_currency} != {fee} {currency}"
                )
    if not stamped:
        wrong.append("no contract fill carried its leverage")
    return wrong


async def test_fee_and_fee_currency_match_the_venue_under_ws_drops(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    faults = Faults(ws_drop_every_s=0.7, rest_only_fill_probability=0.4, duplicate_probability=0.1)
    async with Simulator(CONFIG, faults=faults) as sim:
        bindings = bind_accounts(sim)
        ctx = make_context(sim, settings, redis_client, bindings)
        async with collecting(ctx, bindings):
            await trade_until(sim, bindings, fills_per_venue=20)
            await eventually(
                lambda: check_truth(redis_client, settings.stream_prefix, bindings), timeout_s=40
            )
            venues: dict[str, Any] = {b.account.venue: len(b.account.fills) for b in bindings}
            assert all(venues.values()), f"every venue must trade: {venues}"
            wrong = await _check_fees(redis_client, settings.stream_prefix, bindings)
            assert not wrong, "\n".join(wrong[:20])
