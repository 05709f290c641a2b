"""Kraken simulator against the real ccxt client (nothing of ccxt mocked).

A seeded scenario runs on the real ledger behind ``Simulator``; every fetch_*/watch_* result is
compared with the world's ground truth, then the failure paths: bad credentials and nonces, rate
limits, outages, dropped sockets and the push faults.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import ccxt
import pytest
from kraken_helpers import (
    approx,
    assert_balances,
    assert_rest_order,
    assert_rest_trade,
    assert_ws_order,
    assert_ws_trade,
    client,
    kraken_sim,
    run_steps,
    watch_until,
)
from sim_clock import listening

from fullon_account_service.simulator.catalog import catalog
from fullon_account_service.simulator.model import SimAccount
from fullon_account_service.simulator.server import Simulator
from fullon_account_service.simulator.venues.kraken.ws import Session

PAGE = 50


async def all_pages(fetch: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Every row of a 50-per-page Kraken listing, paged with ``ofs`` (bounded)."""
    rows: list[dict[str, Any]] = []
    for page in range(20):
        batch = await fetch(params={"ofs": page * PAGE}, **kwargs)
        rows += batch
        if len(batch) < PAGE:
            return rows
    raise AssertionError("more pages than expected")


def sockets_listening(account: SimAccount) -> int:
    return sum(isinstance(getattr(listener, "__self__", None), Session) for listener in account.listeners)


def give_history(sim: Simulator) -> None:
    """One fill and one open order, so the executions snapshots are not empty (ccxt resolves no
    watch on an empty snapshot, as with the real venue)."""
    account = sim.world.accounts_of("kraken")[0]
    order = sim.ledger.place_order(account, "SOL/USD", "buy", "limit", 10.0, 140.0)
    sim.ledger.fill(account, order, 4.0, 140.0, taker=False)


def busy(sim: Simulator) -> list[SimAccount]:
    accounts = sim.world.accounts_of("kraken")
    for a in accounts:
        statuses = {o.status for o in a.orders.values()}
        assert {"open", "closed", "canceled"} <= statuses, f"scenario too quiet: {statuses}"
        assert any(f.fee_currency != f.symbol.split("/")[1] for f in a.fills), "no fee in base"
    return accounts


async def test_load_markets_matches_catalog() -> None:
    async with kraken_sim() as (sim, _), client(sim.client_config(sim.world.accounts_of("kraken")[0])) as ex:
        markets = await ex.load_markets()
        expected = {m.symbol: m for m in catalog()["kraken"]}
        assert set(markets) == set(expected)
        for symbol, m in expected.items():
            parsed = markets[symbol]
            assert parsed["id"] == m.venue_id
            assert (parsed["base"], parsed["quote"], parsed["spot"]) == (m.base, m.quote, True)
            assert parsed["precision"]["price"] == approx(m.tick)
            assert parsed["precision"]["amount"] == approx(m.lot)
            assert parsed["active"] is True


async def test_rest_account_matches_ground_truth() -> None:
    async with kraken_sim() as (sim, clock):
        run_steps(sim, clock, 700)
        for account in busy(sim):
            async with client(sim.client_config(account)) as ex:
                assert_balances(await ex.fetch_balance(), account)

                open_orders = await ex.fetch_open_orders()
                expected_open = {o.order_id: o for o in account.orders.values() if o.status == "open"}
                assert {o["id"] for o in open_orders} == set(expected_open)
                for parsed in open_orders:
                    order = expected_open[parsed["id"]]
                    assert_rest_order(parsed, order, sim.world.market("kraken", order.symbol))

                closed = await all_pages(ex.fetch_closed_orders)
                expected_closed = {o.order_id: o for o in account.orders.values() if o.status != "open"}
                assert len(expected_closed) > PAGE, "pagination not exercised"
                assert sorted(o["id"] for o in closed) == sorted(expected_closed)
                for parsed in closed:
                    order = expected_closed[parsed["id"]]
                    assert_rest_order(parsed, order, sim.world.market("kraken", order.symbol))

                trades = await all_pages(ex.fetch_my_trades)
                assert sorted(t["id"] for t in trades) == sorted(f.trade_id for f in account.fills)
                fills = {f.trade_id: f for f in account.fills}
                for parsed in trades:
                    fill = fills[parsed["id"]]
                    market = sim.world.market("kraken", fill.symbol)
                    assert_rest_trade(parsed, fill, account.orders[fill.order_id], market)

                assert await ex.fetch_positions() == []
                some = next(iter(expected_closed.values()))
                parsed_one = await ex.fetch_order(some.order_id)
                assert_rest_order(parsed_one, some, sim.world.market("kraken", some.symbol))


async def test_rest_since_and_until_window() -> None:
    async with kraken_sim() as (sim, clock):
        run_steps(sim, clock, 200)
        account = sim.world.accounts_of("kraken")[0]
        fills = account.fills
        since, until = fills[len(fills) // 4].ts_ms, fills[len(fills) // 2].ts_ms
        async with client(sim.client_config(account)) as ex:
            trades = await ex.fetch_my_trades(since=since, params={"until": until})
            expected = [f.trade_id for f in fills if since <= f.ts_ms <= until]
            assert sorted(t["id"] for t in trades) == sorted(expected)

            closed = await ex.fetch_closed_orders(since=since)
            assert closed and all(o["timestamp"] >= since for o in closed)
            assert all(account.orders[o["id"]].status != "open" for o in closed)


async def test_ws_snapshots_match_ground_truth() -> None:
    async with kraken_sim() as (sim, clock):
        run_steps(sim, clock, 300)
        account = sim.world.accounts_of("kraken")[0]
        async with client(sim.client_config(account)) as ex:
            assert_balances(await asyncio.wait_for(ex.watch_balance(), 60), account, totals_only=True)
            orders = await asyncio.wait_for(ex.watch_orders(), 60)
            expected = {o.order_id: o for o in account.orders.values() if o.status == "open"}
            assert {o["id"] for o in orders} == set(expected)
            for parsed in orders:
                assert_ws_order(parsed, expected[parsed["id"]])
        async with client(sim.client_config(account)) as ex:
            trades = await asyncio.wait_for(ex.watch_my_trades(), 60)
            assert [t["id"] for t in trades] == [f.trade_id for f in account.fills[-50:]]
            for parsed, fill in zip(trades, account.fills[-50:], strict=True):
                assert_ws_trade(parsed, fill, account.orders[fill.order_id])


async def test_ws_updates_follow_the_ledger() -> None:
    async with kraken_sim() as (sim, clock):
        account, ledger = sim.world.accounts_of("kraken")[0], sim.ledger
        give_history(sim)
        async with client(sim.client_config(account)) as ex:
            await asyncio.wait_for(ex.watch_balance(), 60)
            await asyncio.wait_for(ex.watch_my_trades(), 60)  # subscribes executions (snap_trades)
            orders = asyncio.create_task(watch_until(ex.watch_orders, lambda r: r[-1]["status"] == "closed"))
            trades = asyncio.create_task(watch_until(ex.watch_my_trades, lambda r: len(r) >= 1))
            balances = asyncio.create_task(
                watch_until(
                    ex.watch_balance, lambda b: b["total"]["BTC"] == approx(account.balances["BTC"].total)
                )
            )
            await listening(ex, "orders", "myTrades", "balances")
            clock.advance(1000)
            order = ledger.place_order(
                account, "BTC/USD", "buy", "limit", 0.5, 59_000.0, client_order_id="c-1"
            )
            clock.advance(1000)
            first = ledger.fill(account, order, 0.2, 59_000.0, taker=False, fee_in_base=True)
            clock.advance(1000)
            ledger.fill(account, order, 0.3, 58_990.0, taker=True)
            got_trades = await trades
            assert_ws_trade(got_trades[-1], first, order)
            assert got_trades[-1]["fee"]["currency"] == "BTC"
            assert_ws_order((await orders)[-1], order)
            assert_balances(await balances, account, totals_only=True)

            canceled = asyncio.create_task(
                watch_until(ex.watch_orders, lambda r: r[-1]["status"] == "canceled")
            )
            await listening(ex, "orders")
            other = ledger.place_order(account, "ETH/USD", "sell", "limit", 1.0, 3_100.0)
            clock.advance(1000)
            ledger.cancel(account, other)
            assert_ws_order((await canceled)[-1], other)

            deposit = asyncio.create_task(
                watch_until(ex.watch_balance, lambda b: b["total"]["EUR"] == approx(60_000.0))
            )
            await listening(ex, "balances")
            ledger.deposit(account, "EUR", 10_000.0)
            parsed = await deposit
            assert parsed["info"]["data"][0]["type"] == "deposit"


async def test_wrong_key_is_authentication_error() -> None:
    async with kraken_sim() as (sim, _):
        config = sim.client_config(sim.world.accounts_of("kraken")[0]) | {"apiKey": "bm90LWEta2V5"}
        async with client(config) as ex:
            with pytest.raises(ccxt.AuthenticationError, match="EAPI:Invalid key"):
                await ex.fetch_balance()


async def test_wrong_secret_is_authentication_error() -> None:
    """A signature made with the wrong secret is refused as ``EAPI:Invalid key``, as Kraken does."""
    async with kraken_sim() as (sim, _):
        secret = "c2VjcmV0LXRoYXQtaXMtd3Jvbmc="
        config = sim.client_config(sim.world.accounts_of("kraken")[0]) | {"secret": secret}
        async with client(config) as ex:
            with pytest.raises(ccxt.AuthenticationError, match="EAPI:Invalid key"):
                await ex.fetch_balance()


async def test_lower_nonce_is_invalid_nonce() -> None:
    async with kraken_sim() as (sim, _):
        config = sim.client_config(sim.world.accounts_of("kraken")[0])
        async with client(config) as ahead, client(config, options={"timeDifference": 60_000}) as behind:
            await ahead.fetch_balance()
            with pytest.raises(ccxt.InvalidNonce, match="EAPI:Invalid nonce"):
                await behind.fetch_balance()
            await ahead.fetch_balance()  # the refused nonce did not move the key's counter


async def test_rate_limit_and_outage() -> None:
    async with (
        kraken_sim() as (sim, _),
        client(sim.client_config(sim.world.accounts_of("kraken")[0])) as ex,
    ):
        await ex.load_markets()
        sim.world.faults.rate_limit_probability = 1.0
        with pytest.raises(ccxt.DDoSProtection, match="EAPI:Rate limit exceeded"):
            await ex.fetch_balance()
        async with aiohttp.ClientSession() as http:
            url = sim.base_url("kraken") + "/0/private/BalanceEx"
            async with http.post(url, data={"nonce": "1"}) as response:
                assert response.status == 429
                assert response.headers["Retry-After"] == "1"
                assert await response.json() == {"error": ["EAPI:Rate limit exceeded"]}
        sim.world.faults.rate_limit_probability = 0.0
        sim.world.faults.server_error_probability = 1.0
        with pytest.raises(ccxt.ExchangeNotAvailable):
            await ex.fetch_balance()
        sim.world.faults.server_error_probability = 0.0
        assert "USD" in (await ex.fetch_balance())["total"]


async def test_dropped_socket_raises_then_reconnects() -> None:
    async with kraken_sim() as (sim, _):
        account = sim.world.accounts_of("kraken")[0]
        async with client(sim.client_config(account)) as ex:
            await asyncio.wait_for(ex.watch_balance(), 60)
            pending = asyncio.create_task(ex.watch_balance())
            await listening(ex, "balances")
            sim.world.faults.ws_drop_probability = 1.0
            sim.ledger.deposit(account, "USD", 5.0)
            with pytest.raises(ccxt.NetworkError):
                await asyncio.wait_for(pending, 60)
            sim.world.faults.ws_drop_probability = 0.0
            again = await asyncio.wait_for(ex.watch_balance(), 60)
            assert again["total"]["USD"] == approx(account.balances["USD"].total)
            async with asyncio.timeout(60):
                while sockets_listening(account) != 1:  # the dropped socket let go of the account
                    await asyncio.sleep(0.01)


async def test_raw_protocol_ping_and_subscribe_errors() -> None:
    async with kraken_sim() as (sim, _), aiohttp.ClientSession() as http:
        url = sim.base_url("kraken").replace("http", "ws") + "/v2"
        async with asyncio.timeout(60), http.ws_connect(url) as ws:
            status = await ws.receive_json()
            assert status["channel"] == "status"
            await ws.send_json({"method": "ping", "req_id": 7})
            pong = await ws.receive_json()
            assert (pong["method"], pong["req_id"]) == ("pong", 7)
            bad = {"method": "subscribe", "req_id": 8, "params": {"channel": "balances", "token": "nope"}}
            await ws.send_json(bad)
            ack = await ws.receive_json()
            assert (ack["success"], ack["error"], ack["req_id"]) == (False, "ESession:Invalid session", 8)
            await ws.send_str("{not json")
            assert (await ws.receive_json())["success"] is False


async def test_early_order_update_and_rest_only_fill() -> None:
    async with kraken_sim() as (sim, clock):
        account, ledger, faults = sim.world.accounts_of("kraken")[0], sim.ledger, sim.world.faults
        give_history(sim)
        async with client(sim.client_config(account)) as ex:
            await asyncio.wait_for(ex.watch_my_trades(), 60)
            faults.early_order_update_probability = 1.0
            pushed = asyncio.create_task(watch_until(ex.watch_orders, lambda r: r[-1]["status"] == "open"))
            await listening(ex, "orders")
            order = ledger.place_order(account, "ETH/USD", "buy", "limit", 2.0, 2_900.0)
            assert (await pushed)[-1]["id"] == order.order_id
            assert order.order_id not in {o["id"] for o in await ex.fetch_open_orders()}
            clock.advance(1001)
            assert order.order_id in {o["id"] for o in await ex.fetch_open_orders()}

            faults.early_order_update_probability = 0.0
            faults.rest_only_fill_probability = 1.0
            trades = asyncio.create_task(watch_until(ex.watch_my_trades, lambda r: len(r) >= 1))
            await listening(ex, "myTrades")
            hidden = ledger.fill(account, order, 1.0, 2_900.0, taker=False)
            faults.rest_only_fill_probability = 0.0
            shown = ledger.fill(account, order, 1.0, 2_900.0, taker=False)
            assert [t["id"] for t in await trades] == [shown.trade_id]
            assert {hidden.trade_id, shown.trade_id} <= {t["id"] for t in await ex.fetch_my_trades()}


async def test_unknown_private_method_and_public_filters() -> None:
    async with kraken_sim() as (sim, _), aiohttp.ClientSession() as http:
        base = sim.base_url("kraken")
        async with http.post(base + "/0/private/Nope", data={"nonce": "1"}) as response:
            assert response.status == 404
            assert json.loads(await response.text()) == {"error": ["EGeneral:Unknown method"]}
        async with http.get(base + "/0/public/AssetPairs", params={"pair": "XBTUSD"}) as response:
            assert list((await response.json())["result"]) == ["XXBTZUSD"]


async def test_scenario_streams_converge_to_ground_truth() -> None:
    """Subscribed first, then a seeded scenario runs: the sockets' state ends equal to the world."""
    async with kraken_sim(seed=5) as (sim, clock):
        account = sim.world.accounts_of("kraken")[0]
        give_history(sim)
        async with client(sim.client_config(account)) as ex:
            await asyncio.wait_for(ex.watch_balance(), 60)
            await asyncio.wait_for(ex.watch_my_trades(), 60)
            fills_before, orders_before = len(account.fills), set(account.orders)
            for _ in range(20):
                run_steps(sim, clock, 10)
                await asyncio.sleep(0.01)
            new_fills = account.fills[fills_before:]
            assert new_fills, "scenario too quiet for the test"

            def converged() -> bool:
                pushed = {t["id"] for t in ex.myTrades}
                totals = ex.balance.get("spot", {}).get("total", {})
                same_totals = all(totals.get(c) == approx(b.total) for c, b in account.balances.items())
                return same_totals and all(f.trade_id in pushed for f in new_fills)

            async with asyncio.timeout(60):
                while not converged():
                    await asyncio.sleep(0.02)
            pushed_trades = {t["id"]: t for t in ex.myTrades}
            for fill in new_fills:
                assert_ws_trade(pushed_trades[fill.trade_id], fill, account.orders[fill.order_id])
            pushed_orders = {o["id"]: o for o in ex.orders}
            ended = [
                o for o in account.orders.values() if o.order_id not in orders_before and o.status != "open"
            ]
            assert ended, "no order ended during the scenario"
            for order in ended:
                assert_ws_order(pushed_orders[order.order_id], order)
