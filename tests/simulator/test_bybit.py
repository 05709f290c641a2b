"""Bybit v5 simulator against the real ccxt client (nothing of ccxt mocked).

A seeded scenario runs on the real ledger inside ``Simulator``; every fetch_*/watch_* result is
compared with the world's ground truth, with the venue's own conventions applied (see
``docs/venues/bybit.md``): REST balances are wallet balances, the private stream's are equity with
only spot-order locks as ``used``; a partially filled spot order that is cancelled reads ``closed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import ccxt
import pytest
from bybit_helpers import (
    START_MS,
    approx,
    assert_fill,
    assert_order,
    assert_position,
    bybit_sim,
    client,
    collect,
    eventually,
    markets_of,
    run,
    spot_locked,
    upnl_by_coin,
)
from sim_clock import subscribes

from fullon_account_service.simulator.model import SimAccount
from fullon_account_service.simulator.server import Simulator
from fullon_account_service.simulator.venues.bybit.auth import sign

PAGES = {"paginate": True, "paginationCalls": 500, "maxEntriesPerRequest": 7}
SINCE = START_MS - 1


async def fetch_all(exchange: Any, method: str, kind: str) -> list[dict[str, Any]]:
    """Every row of a list endpoint for one market type, paging with small pages (cursor)."""
    return list(await getattr(exchange, method)(None, SINCE, None, {**PAGES, "type": kind}))


async def test_load_markets_matches_catalog() -> None:
    async with bybit_sim(accounts=1) as (sim, _), client(sim.client_config(sim.world.accounts[0])) as ex:
        markets = await ex.load_markets()
        catalog = markets_of(sim)
        assert set(markets) == set(catalog)
        for symbol, m in catalog.items():
            parsed = markets[symbol]
            assert parsed["id"] == m.venue_id
            assert (parsed["base"], parsed["quote"], parsed["active"]) == (m.base, m.quote, True)
            assert parsed["type"] == m.kind
            assert parsed["precision"]["amount"] == approx(m.lot)
            assert parsed["precision"]["price"] == approx(m.tick)
            if m.kind == "swap":
                assert (parsed["settle"], parsed["linear"], parsed["contractSize"]) == (m.settle, True, 1.0)
                assert parsed["limits"]["leverage"]["max"] == m.max_leverage


async def test_rest_matches_ground_truth() -> None:
    async with bybit_sim(seed=11, accounts=2) as (sim, clock):
        run(sim, clock, 500)
        markets = markets_of(sim)
        for account in sim.world.accounts_of("bybit"):
            async with client(sim.client_config(account)) as ex:
                await check_rest_account(ex, account, markets)


async def check_rest_account(ex: Any, account: SimAccount, markets: dict[str, Any]) -> None:
    balance = await ex.fetch_balance()
    shown = {c for c, b in account.balances.items() if b.total or b.used}
    assert set(balance["total"]) == shown
    for coin in shown:
        truth = account.balances[coin]
        assert balance[coin]["total"] == approx(truth.total)
        assert balance[coin]["used"] == approx(truth.used)
        assert balance[coin]["free"] == approx(truth.free)

    open_rows = await fetch_all(ex, "fetch_open_orders", "swap") + await fetch_all(
        ex, "fetch_open_orders", "spot"
    )
    truth_open = {o.order_id: o for o in account.orders.values() if o.status == "open"}
    assert sorted(r["id"] for r in open_rows) == sorted(truth_open)
    for row in open_rows:
        assert_order(row, truth_open[row["id"]], markets[row["symbol"]])

    closed = await fetch_all(ex, "fetch_closed_orders", "swap") + await fetch_all(
        ex, "fetch_closed_orders", "spot"
    )
    truth_filled = {o.order_id: o for o in account.orders.values() if o.status == "closed"}
    assert sorted(r["id"] for r in closed) == sorted(truth_filled)
    for row in closed:
        assert_order(row, truth_filled[row["id"]], markets[row["symbol"]])

    trades = await fetch_all(ex, "fetch_my_trades", "swap") + await fetch_all(ex, "fetch_my_trades", "spot")
    fills = {f.trade_id: f for f in account.fills}
    # ccxt asks for execType=Trade: the venue's own closes (AdlTrade, BustTrade) are left out ...
    assert {t["id"] for t in trades} == {f.trade_id for f in account.fills if f.exec_kind is None}
    # ... an empty execType lists every execution (the producers ask that way).
    every = {"execType": ""}
    trades = [
        t
        for kind in ("swap", "spot")
        for t in await ex.fetch_my_trades(None, SINCE, None, {**PAGES, "type": kind, **every})
        if t["info"]["execType"] != "Funding"
    ]
    assert len(trades) == len(fills) > 7  # more than one page each way
    for row in trades:
        assert_fill(row, fills[row["id"]])

    positions = await ex.fetch_positions()
    assert sorted(p["symbol"] for p in positions) == sorted(account.positions)
    for row in positions:
        assert_position(row, account.positions[row["symbol"]])


async def test_ws_pushes_match_ground_truth() -> None:
    async with bybit_sim(seed=5, accounts=1) as (sim, clock):
        run(sim, clock, 40)
        account = sim.world.accounts_of("bybit")[0]
        markets = markets_of(sim)
        async with client(sim.client_config(account)) as ex:
            snapshot = await ex.watch_positions()  # first call: the REST snapshot, no subscribe
            assert sorted(p["symbol"] for p in snapshot) == sorted(account.positions)
            orders: dict[str, dict[str, Any]] = {}
            trades: dict[str, dict[str, Any]] = {}
            positions: dict[str, dict[str, Any]] = {}
            balances: list[dict[str, Any]] = []
            sinks = {
                ex.watch_orders: lambda rows: orders.update((r["id"], r) for r in rows),
                ex.watch_my_trades: lambda rows: trades.update((r["id"], r) for r in rows),
                ex.watch_positions: lambda rows: positions.update((r["symbol"], r) for r in rows),
                ex.watch_balance: balances.append,
            }
            heard = subscribes(sim, account)
            tasks = [asyncio.create_task(collect(call, sink)) for call, sink in sinks.items()]
            try:
                await eventually(_listens(sim, account, ex, heard, 4))
                before = {f.trade_id for f in account.fills}
                run(sim, clock, 80)
                new_fills = {f.trade_id: f for f in account.fills if f.trade_id not in before}
                touched = {f.symbol for f in new_fills.values() if markets[f.symbol].kind == "swap"}
                locked, upnl = spot_locked(account, markets), upnl_by_coin(account, markets)

                def caught_up() -> bool:
                    """Every new fill and touched position seen, and the last balance push (it
                    follows the fills) already says what the truth says."""
                    return (
                        set(trades) == set(new_fills)
                        and touched <= set(positions)
                        and all(
                            row["filled"] is not None
                            and math.isclose(row["filled"], account.orders[i].filled, abs_tol=1e-12)
                            for i, row in orders.items()
                        )
                        and bool(balances)
                        and all(
                            math.isclose(balances[-1][coin]["total"], t.total + upnl.get(coin, 0.0))
                            for coin, t in account.balances.items()
                            if t.total and coin in balances[-1]
                        )
                    )

                await eventually(caught_up)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        assert len(new_fills) >= 5 and orders and positions and balances, "too little happened to compare"
        for trade_id, row in trades.items():
            assert_fill(row, new_fills[trade_id])
        for order_id, row in orders.items():
            order = account.orders[order_id]
            assert_order(row, order, markets[order.symbol])
        for symbol, row in positions.items():
            if symbol in account.positions:
                assert_position(row, account.positions[symbol])
            else:
                assert (row["contracts"], row["side"]) == (0, None)
        last = balances[-1]
        for coin, truth in account.balances.items():
            if truth.total:
                assert last[coin]["total"] == approx(truth.total + upnl.get(coin, 0.0))
                assert last[coin]["used"] == approx(locked.get(coin, 0.0))


def _listens(sim: Simulator, account: SimAccount, ex: Any, heard: int, topics: int) -> Callable[[], bool]:
    """ccxt sent ``topics`` subscribes on its one socket and the venue has read them all (it had
    read ``heard`` before): what the venue pushes from then on reaches the client. ccxt lists a
    subscription once it sends it, which alone would let a push race the subscribe."""
    return lambda: (
        len(ex.clients) == 1 and _subscribed(ex) == topics and subscribes(sim, account) == heard + topics
    )


def _subscribed(ex: Any) -> int:
    client_ = next(iter(ex.clients.values()))
    return sum(1 for key in client_.subscriptions if key != "authenticated")


@pytest.mark.parametrize("field", ["apiKey", "secret"])
async def test_wrong_credentials_raise_authentication_error(field: str) -> None:
    async with bybit_sim(accounts=1) as (sim, _):
        config = sim.client_config(sim.world.accounts[0])
        config[field] = "X" * len(config[field])
        async with client(config) as ex:
            with pytest.raises(ccxt.AuthenticationError):
                await ex.fetch_balance()
            with pytest.raises(ccxt.AuthenticationError):
                await ex.watch_balance()


async def test_ws_auth_refusal_is_the_venues() -> None:
    """A refused ``auth`` op carries no retCode on Bybit, so ccxt raises a plain ExchangeError."""
    async with bybit_sim(accounts=1) as (sim, _), client(sim.client_config(sim.world.accounts[0])) as ex:
        await ex.fetch_balance()  # markets and account type cached with good credentials
        ex.secret = "Y" * len(ex.secret)
        with pytest.raises(ccxt.ExchangeError) as info:
            await ex.watch_orders()
        assert "Request not authorized" in str(info.value)


async def test_stale_timestamp_is_invalid_nonce() -> None:
    async with bybit_sim(accounts=1) as (sim, _), client(sim.client_config(sim.world.accounts[0])) as ex:
        await ex.load_markets()
        ex.options["timeDifference"] = 60_000  # requests stamped a minute in the past
        with pytest.raises(ccxt.InvalidNonce):
            await ex.fetch_open_orders()


async def test_signature_covers_the_raw_query() -> None:
    async with bybit_sim(accounts=1) as (sim, _):
        account = sim.world.accounts[0]
        url = sim.base_url("bybit") + "/v5/order/realtime?settleCoin=USDT&category=linear"
        ts = str(time.time_ns() // 1_000_000)
        good = sign(account.secret, ts + account.api_key + "5000" + "settleCoin=USDT&category=linear")
        sorted_query = sign(account.secret, ts + account.api_key + "5000" + "category=linear&settleCoin=USDT")
        async with aiohttp.ClientSession() as http:
            for signature, code in ((good, 0), (sorted_query, 10004)):
                headers = {
                    "X-BAPI-API-KEY": account.api_key,
                    "X-BAPI-TIMESTAMP": ts,
                    "X-BAPI-RECV-WINDOW": "5000",
                    "X-BAPI-SIGN": signature,
                }
                async with http.get(url, headers=headers) as response:
                    body = await response.json()
                assert body["retCode"] == code
                assert account.api_key not in str(body)


async def test_rate_limit_raises_rate_limit_exceeded() -> None:
    async with bybit_sim(accounts=1) as (sim, _), client(sim.client_config(sim.world.accounts[0])) as ex:
        await ex.load_markets()
        sim.world.faults.rate_limit_probability = 1.0
        sim.world.faults.rate_limit_retry_after_s = 2.0
        with pytest.raises(ccxt.RateLimitExceeded) as info:
            await ex.fetch_positions()
        assert "10006" in str(info.value)
        headers = ex.last_response_headers or {}
        assert headers.get("Retry-After") == "2"


async def test_dropped_socket_raises_network_error_then_resubscribes() -> None:
    async with bybit_sim(seed=3, accounts=1) as (sim, clock):
        account = sim.world.accounts[0]
        async with client(sim.client_config(account)) as ex:
            heard = subscribes(sim, account)
            pending = asyncio.create_task(ex.watch_my_trades())
            await eventually(_listens(sim, account, ex, heard, 1))
            sim.world.faults.ws_drop_every_s = 0.05
            with pytest.raises(ccxt.NetworkError):
                async with asyncio.timeout(60):
                    await pending
            sim.world.faults.ws_drop_every_s = None
            heard = subscribes(sim, account)
            again = asyncio.create_task(ex.watch_my_trades())
            try:
                await eventually(lambda: _fresh_subscription(ex) and subscribes(sim, account) > heard)
                before = len(account.fills)
                for _ in range(200):
                    run(sim, clock, 1)
                    if len(account.fills) > before:
                        break
                async with asyncio.timeout(60):
                    trades = await again
            finally:
                again.cancel()
                with contextlib.suppress(asyncio.CancelledError, ccxt.BaseError):
                    await again
        assert [t["id"] for t in trades] == [f.trade_id for f in account.fills[before:]][: len(trades)]


def _fresh_subscription(ex: Any) -> bool:
    clients = [c for c in ex.clients.values() if c.connection is not None and not c.connection.closed]
    return len(clients) == 1 and sum(1 for k in clients[0].subscriptions if k != "authenticated") == 1


async def test_rest_only_fill_and_early_order_update() -> None:
    async with bybit_sim(seed=9, accounts=1) as (sim, _):
        account = sim.world.accounts[0]
        sim.world.faults.rest_only_fill_probability = 1.0
        sim.world.faults.early_order_update_probability = 1.0
        async with client(sim.client_config(account)) as ex:
            await ex.load_markets()
            pushed: dict[str, dict[str, Any]] = {}
            executions: list[dict[str, Any]] = []
            heard = subscribes(sim, account)
            tasks = [
                asyncio.create_task(
                    collect(ex.watch_orders, lambda rows: pushed.update((r["id"], r) for r in rows))
                ),
                asyncio.create_task(collect(ex.watch_my_trades, executions.extend)),
            ]
            try:
                await eventually(_listens(sim, account, ex, heard, 2))
                placed = time.monotonic()
                order = sim.ledger.place_order(account, "BTC/USDT:USDT", "buy", "limit", 0.01, price=50_000.0)
                await eventually(lambda: order.order_id in pushed)
                listed = {o["id"] for o in await ex.fetch_open_orders()}
                # The venue hides it for a second of wall time: only a quick machine sees that.
                if time.monotonic() - placed < 0.9:
                    assert order.order_id not in listed
                await asyncio.sleep(max(0.0, placed + 1.05 - time.monotonic()))
                assert order.order_id in {o["id"] for o in await ex.fetch_open_orders()}
                fill = sim.ledger.fill(account, order, 0.01, 50_000.0, taker=False)
                await eventually(lambda: pushed[order.order_id]["status"] == "closed")
                rest_trades = await ex.fetch_my_trades()
                assert fill.trade_id in {t["id"] for t in rest_trades}
                assert executions == []  # the fill was never pushed
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)


async def test_server_binds_loopback_only() -> None:
    async with bybit_sim(accounts=1) as (sim, _):
        assert isinstance(sim, Simulator)
        assert sim.base_url("bybit").startswith("http://127.0.0.1:")


async def test_private_stream_protocol_frames() -> None:
    """The frames ccxt relies on: pong, refusal before auth, auth ack, subscribe acks."""
    async with bybit_sim(accounts=1) as (sim, _), aiohttp.ClientSession() as http:
        account = sim.world.accounts[0]
        url = sim.base_url("bybit").replace("http://", "ws://") + "/v5/private"
        async with http.ws_connect(url) as ws, asyncio.timeout(60):

            async def ask(request: dict[str, Any]) -> dict[str, Any]:
                await ws.send_json(request)
                reply: dict[str, Any] = await ws.receive_json()
                return reply

            pong = await ask({"op": "ping", "req_id": 1})
            assert (pong["op"], pong["req_id"]) == ("pong", "1")
            early = await ask({"op": "subscribe", "req_id": 2, "args": ["order"]})
            assert (early["success"], early["ret_msg"]) == (False, "Request not authorized")
            expires = str(time.time_ns() // 1_000_000 + 10_000)
            signature = sign(account.secret, "GET/realtime" + expires)
            auth = await ask({"op": "auth", "args": [account.api_key, expires, signature]})
            assert (auth["op"], auth["success"], auth["ret_msg"]) == ("auth", True, "")
            bad = await ask({"op": "subscribe", "req_id": 3, "args": ["orderbook.1.BTCUSDT"]})
            assert (bad["success"], bad["req_id"]) == (False, "3")
            ok = await ask({"op": "subscribe", "req_id": 4, "args": ["order"]})
            assert (ok["op"], ok["success"], ok["req_id"]) == ("subscribe", True, "4")
            sim.ledger.place_order(account, "ETH/USDT:USDT", "sell", "limit", 0.5, price=3_100.0)
            pushed = await ws.receive_json()
            assert pushed["topic"] == "order"
            assert pushed["data"][0]["category"] == "linear"
            assert pushed["data"][0]["tpslMode"] == ""
