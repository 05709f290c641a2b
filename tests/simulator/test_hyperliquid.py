"""Hyperliquid simulator against the real ccxt client (nothing of ccxt mocked).

A seeded scenario runs on the real ledger inside the real ``Simulator``; every fetch_*/watch_*
result is compared with the ground truth. Reads carry no credentials on this venue, so the "auth"
tests cover what can fail instead: unknown addresses, unsigned and wrongly signed ``/exchange``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import ccxt
import pytest
from hyperliquid_helpers import HlSim, client, running
from sim_clock import subscribed_beyond, subscribes, until

from fullon_account_service.simulator.model import SimAccount, SimFill, SimOrder
from fullon_account_service.simulator.venues.hyperliquid import VENUE

STEPS = 400


def approx(value: float) -> Any:
    return pytest.approx(value, rel=1e-9, abs=1e-9)


def equity(account: SimAccount) -> float:
    return account.balances["USDC"].total + sum(p.unrealized_pnl for p in account.positions.values())


def check_order(parsed: dict[str, Any], order: dict[str, Any], status: str) -> None:
    """``order`` is a ground-truth row (``truth.py``)."""
    assert parsed["id"] == order["id"]
    assert parsed["symbol"] == order["symbol"]
    assert parsed["side"] == order["side"]
    assert parsed["status"] == status
    assert parsed["amount"] == approx(order["amount"])
    assert parsed["filled"] == approx(order["filled"])
    assert parsed["remaining"] == approx(order["remaining"])
    assert parsed["timestamp"] == order["created_ms"]
    assert parsed["clientOrderId"] == order["client_order_id"]
    if order["price"] is not None:
        assert parsed["price"] == approx(order["price"])


def check_fill(parsed: dict[str, Any], fill: dict[str, Any], *, ws: bool = False) -> None:
    assert parsed["id"] == fill["id"]
    assert parsed["order"] == fill["order_id"]
    assert parsed["symbol"] == fill["symbol"]
    assert parsed["side"] == fill["side"]
    assert parsed["price"] == approx(fill["price"])
    assert parsed["amount"] == approx(fill["amount"])
    assert parsed["timestamp"] == fill["ts_ms"]
    # The venue's fee includes the builder fee; ccxt's REST parser adds builderFee once more (the
    # normaliser reads the raw fee, see tests/producers/test_venue_shapes_hyperliquid.py).
    assert parsed["fee"]["cost"] == approx(fill["fee"] + (0.0 if ws else fill["builder_fee"]))
    assert parsed["fee"]["currency"] == "USDC" == fill["fee_currency"]
    # over WS ccxt never says taker or maker on this venue
    assert parsed["takerOrMaker"] == (None if ws else ("taker" if fill["taker"] else "maker"))
    # A liquidation fill names the account; a maker fill may be the other side of another's.
    liquidation = parsed["info"].get("liquidation")
    if fill["exec_kind"] == "liquidation":
        assert liquidation is not None
    elif liquidation is not None:
        assert not fill["taker"] and fill["exec_kind"] is None


def check_positions(parsed: list[dict[str, Any]], positions: list[dict[str, Any]]) -> None:
    by_symbol = {p["symbol"]: p for p in positions}
    assert {p["symbol"] for p in parsed} == set(by_symbol)
    for p in parsed:
        truth = by_symbol[p["symbol"]]
        assert p["side"] == truth["side"]
        assert p["contracts"] == approx(abs(truth["contracts"]))
        assert p["entryPrice"] == approx(truth["entry_price"])
        assert p["markPrice"] == approx(truth["mark_price"])
        assert p["unrealizedPnl"] == approx(truth["unrealized_pnl"])
        assert p["leverage"] == round(truth["leverage"])
        isolated = truth["isolated"]
        if isolated or truth["leverage"] > 3:
            assert p["liquidationPrice"] == approx(truth["liquidation_price"])
        else:
            assert p["liquidationPrice"] is None  # the venue sends liquidationPx: null
        assert p["initialMargin"] == approx(truth["margin"])
        extra = truth["unrealized_pnl"] if isolated else 0.0  # isolated marginUsed includes upnl
        assert p["collateral"] == approx(truth["margin"] + extra)
        assert p["marginMode"] == ("isolated" if isolated else "cross")


def truth_of(hl: HlSim, account: SimAccount) -> dict[str, Any]:
    rows: list[dict[str, Any]] = hl.sim.truth()["accounts"]
    return next(a for a in rows if a["venue"] == "hyperliquid" and a["index"] == account.index)


def object_fill(fill: SimFill) -> dict[str, Any]:
    return {
        "id": fill.trade_id,
        "order_id": fill.order_id,
        "symbol": fill.symbol,
        "side": fill.side,
        "price": fill.price,
        "amount": fill.amount,
        "fee": fill.fee,
        "fee_currency": fill.fee_currency,
        "taker": fill.taker,
        "ts_ms": fill.ts_ms,
        "builder_fee": fill.builder_fee,
        "exec_kind": fill.exec_kind,
    }


def object_order(order: SimOrder) -> dict[str, Any]:
    return {
        "id": order.order_id,
        "symbol": order.symbol,
        "side": order.side,
        "amount": order.amount,
        "filled": order.filled,
        "remaining": order.remaining,
        "created_ms": order.created_ms,
        "client_order_id": order.client_order_id,
        "price": order.price,
    }


def check_balance(balance: dict[str, Any], account: SimAccount) -> None:
    used = account.balances["USDC"].used
    assert balance["USDC"]["total"] == approx(equity(account))
    assert balance["USDC"]["used"] == approx(used)
    assert balance["USDC"]["free"] == approx(equity(account) - used)


async def test_load_markets_lists_the_catalog_perps() -> None:
    async with running() as hl, client(hl.config(hl.accounts[0])) as ex, asyncio.timeout(60):
        markets = await ex.load_markets()
        catalog = hl.world.markets["hyperliquid"]
        assert set(markets) == {m.symbol for m in catalog}
        for m in catalog:
            parsed = markets[m.symbol]
            assert parsed["id"] == m.venue_id
            assert parsed["type"] == "swap" and parsed["settle"] == "USDC" and parsed["linear"]
            assert parsed["precision"]["amount"] == approx(m.lot)
            assert parsed["limits"]["leverage"]["max"] == m.max_leverage
        assert ex.options["approvedBuilderFee"] is True  # its signed /exchange action was accepted
        assert hl.base_url.startswith("http://127.0.0.1:")


async def test_rest_fetches_match_ground_truth() -> None:
    absorbed = 0
    async with running(steps=STEPS) as hl, asyncio.timeout(60):
        for account in hl.accounts:
            truth = truth_of(hl, account)
            assert truth["fills"] and truth["positions"], "scenario too quiet for the test"
            async with client(hl.config(account)) as ex:
                await ex.load_markets()
                check_balance(await ex.fetch_balance(), account)
                check_positions(await ex.fetch_positions(), truth["positions"])

                for fetch, status, wire in (
                    (ex.fetch_open_orders, "open", "open"),
                    (ex.fetch_closed_orders, "closed", "closed"),
                    (ex.fetch_canceled_orders, "canceled", "canceled"),
                ):
                    parsed = {o["id"]: o for o in await fetch()}
                    expected = [o for o in truth["orders"] if o["status"] == status]
                    assert set(parsed) == {o["id"] for o in expected}, status
                    for order in expected:
                        check_order(parsed[order["id"]], order, wire)

                trades = await ex.fetch_my_trades()
                assert [t["id"] for t in trades] == [f["id"] for f in truth["fills"]]
                for parsed_trade, fill in zip(trades, truth["fills"], strict=True):
                    check_fill(parsed_trade, fill)
                    others = parsed_trade["info"].get("liquidation", {}).get("liquidatedUser")
                    absorbed += others not in (None, account.wallet_address)
        assert absorbed, "no maker fill took another account's liquidation"


async def test_my_trades_since_until_uses_fills_by_time() -> None:
    async with running(steps=STEPS) as hl, asyncio.timeout(60):
        account = hl.accounts[0]
        fills = account.fills
        since, until = fills[len(fills) // 4].ts_ms, fills[len(fills) // 2].ts_ms
        async with client(hl.config(account)) as ex:
            trades = await ex.fetch_my_trades(since=since, params={"until": until})
            limited = await ex.fetch_my_trades(since=since, limit=3)
        assert [t["id"] for t in trades] == [f.trade_id for f in fills if since <= f.ts_ms <= until]
        assert [t["id"] for t in limited] == [f.trade_id for f in fills if f.ts_ms >= since][:3]


async def test_watch_streams_match_ground_truth() -> None:
    async with running(steps=STEPS) as hl, asyncio.timeout(60):
        account = hl.accounts[0]
        async with client(hl.config(account)) as ex:
            await ex.load_markets()
            check_balance(await ex.watch_balance(), account)
            # shares the balance's subscription: answered by the next periodic push
            check_positions(await ex.watch_positions(), truth_of(hl, account)["positions"])

            snapshot = await ex.watch_my_trades()
            assert [t["id"] for t in snapshot] == [f.trade_id for f in account.fills]
            for parsed, fill in zip(snapshot, account.fills, strict=True):
                check_fill(parsed, object_fill(fill), ws=True)

            heard = subscribes(hl.sim, account, "orderUpdates")
            orders_task = asyncio.ensure_future(ex.watch_orders())
            await subscribed_beyond(hl.sim, account, heard, "orderUpdates")  # before the order exists
            order = hl.ledger.place_order(account, "BTC/USDC:USDC", "buy", "limit", 0.001, 50_000.0)
            check_order((await orders_task)[-1], object_order(order), "open")

            trades_task = asyncio.ensure_future(ex.watch_my_trades())
            hl.clock.advance(500)
            fill = hl.ledger.fill(account, order, 0.001, 50_000.0, taker=False)
            check_fill((await trades_task)[-1], object_fill(fill), ws=True)
            check_order((await ex.watch_orders())[-1], object_order(order), "closed")

            check_balance(await ex.watch_balance(), account)
            check_positions(await ex.watch_positions(), truth_of(hl, account)["positions"])


async def test_unknown_address_reads_empty_state() -> None:
    stranger = SimAccount("hyperliquid", 99, "0x" + "ab" * 20, "0x" + "cd" * 32, "0x" + "ab" * 20)
    async with running() as hl, asyncio.timeout(60), client(VENUE.client_config(stranger, hl.base_url)) as ex:
        balance = await ex.fetch_balance()
        assert balance["USDC"]["total"] == 0
        assert await ex.fetch_positions() == []
        assert await ex.fetch_open_orders() == []
        assert await ex.fetch_my_trades() == []
        # its key is unknown too, so the signed action ccxt sent while loading markets was refused
        assert ex.options["builderFee"] is False


async def test_exchange_checks_signatures() -> None:
    action = {"type": "setReferrer", "code": "CCXT1"}
    async with running() as hl, asyncio.timeout(60):
        config = hl.config(hl.accounts[0])
        async with client(config) as ex:
            nonce = ex.milliseconds()
            signed = {"action": action, "nonce": nonce, "signature": ex.sign_l1_action(action, nonce)}
            assert await ex.privatePostExchange(signed) == {"status": "ok", "response": {"type": "default"}}
            with pytest.raises(ccxt.ExchangeError):  # unsigned: the venue cannot deserialize it (422)
                await ex.privatePostExchange({"action": action, "nonce": nonce})
        async with client(config | {"privateKey": "0x" + "42" * 32}) as ex:
            nonce = ex.milliseconds()
            signed = {"action": action, "nonce": nonce, "signature": ex.sign_l1_action(action, nonce)}
            with pytest.raises(ccxt.InvalidOrder, match="User or API Wallet"):
                await ex.privatePostExchange(signed)


async def test_rate_limit_and_server_error() -> None:
    async with running() as hl, asyncio.timeout(60), client(hl.config(hl.accounts[0])) as ex:
        await ex.load_markets()
        hl.world.faults.rate_limit_probability = 1.0
        hl.world.faults.rate_limit_retry_after_s = 2.0
        with pytest.raises(ccxt.RateLimitExceeded):
            await ex.fetch_balance()
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{hl.base_url}/info", json={"type": "meta"}) as resp,
        ):
            assert resp.status == 429 and resp.headers["Retry-After"] == "2"
        hl.world.faults.rate_limit_probability = 0.0
        hl.world.faults.server_error_probability = 1.0
        with pytest.raises(ccxt.ExchangeNotAvailable):
            await ex.fetch_balance()


async def test_dropped_socket_raises_network_error_then_resubscribes() -> None:
    async with running(steps=STEPS) as hl, asyncio.timeout(60):
        account = hl.accounts[0]
        async with client(hl.config(account)) as ex:
            await ex.load_markets()
            await ex.watch_balance()
            heard = subscribes(hl.sim, account, "orderUpdates")
            pending = asyncio.ensure_future(ex.watch_orders())
            await subscribed_beyond(hl.sim, account, heard, "orderUpdates")
            hl.world.faults.ws_drop_probability = 1.0
            hl.ledger.place_order(account, "ETH/USDC:USDC", "sell", "limit", 0.01, 9_000.0)
            with pytest.raises(ccxt.NetworkError):
                await pending
            hl.world.faults.ws_drop_probability = 0.0

            check_balance(await ex.watch_balance(), account)  # a new socket, subscribed again
            heard = subscribes(hl.sim, account, "orderUpdates")
            again = asyncio.ensure_future(ex.watch_orders())
            await subscribed_beyond(hl.sim, account, heard, "orderUpdates")
            order = hl.ledger.place_order(account, "ETH/USDC:USDC", "sell", "limit", 0.01, 9_100.0)
            check_order((await again)[-1], object_order(order), "open")


async def test_rest_only_fill_and_early_order_update_faults() -> None:
    async with running(steps=STEPS) as hl, asyncio.timeout(60):
        account = hl.accounts[0]
        async with client(hl.config(account)) as ex:
            await ex.load_markets()
            await ex.watch_my_trades()
            heard = subscribes(hl.sim, account, "orderUpdates")
            orders_task = asyncio.ensure_future(ex.watch_orders())
            await subscribed_beyond(hl.sim, account, heard, "orderUpdates")
            hl.world.faults.early_order_update_probability = 1.0
            order = hl.ledger.place_order(account, "SOL/USDC:USDC", "buy", "limit", 1.0, 100.0)
            assert (await orders_task)[-1]["id"] == order.order_id
            assert order.order_id not in {o["id"] for o in await ex.fetch_open_orders()}
            hl.clock.advance(1000)
            assert order.order_id in {o["id"] for o in await ex.fetch_open_orders()}

            hl.world.faults.rest_only_fill_probability = 1.0
            trades_task = asyncio.ensure_future(ex.watch_my_trades())
            hidden = hl.ledger.fill(account, order, 0.4, 100.0, taker=True)
            hl.world.faults.rest_only_fill_probability = 0.0
            shown = hl.ledger.fill(account, order, 0.6, 100.0, taker=True)
            pushed = [t["id"] for t in await trades_task]
            assert pushed[-1] == shown.trade_id and hidden.trade_id not in pushed
            assert hidden.trade_id in {t["id"] for t in await ex.fetch_my_trades()}


async def test_raw_socket_protocol_and_listener_cleanup() -> None:
    async with running() as hl, aiohttp.ClientSession() as http, asyncio.timeout(60):
        account = hl.accounts[0]
        before = list(account.listeners)
        sub = {"type": "userFills", "user": str(account.wallet_address)}
        async with http.ws_connect(hl.base_url.replace("http", "ws") + "/ws") as ws:
            await ws.send_str(json.dumps({"method": "ping"}))
            assert await ws.receive_json() == {"channel": "pong"}
            await ws.send_str(json.dumps({"method": "subscribe", "subscription": sub}))
            assert (await ws.receive_json())["channel"] == "subscriptionResponse"
            snapshot = await ws.receive_json()
            assert snapshot["data"]["isSnapshot"] is True and snapshot["data"]["fills"] == []
            assert len(account.listeners) == len(before) + 1
            await ws.send_str(json.dumps({"method": "subscribe", "subscription": sub}))
            error = await ws.receive_json()
            assert error["channel"] == "error" and "Already subscribed" in error["data"]
            await ws.send_str("not json")
            error = await ws.receive_json()
            assert error["channel"] == "error" and error["data"].startswith("Error parsing JSON")
        await until(lambda: account.listeners == before, "the server noticed the close")
        body = {"type": "userAbstraction", "user": sub["user"]}
        async with http.post(f"{hl.base_url}/info", json=body) as resp:
            assert await resp.text() == '"default"'
        async with http.post(f"{hl.base_url}/info", json={"type": "clearinghouseState"}) as resp:
            assert resp.status == 422


async def test_fetch_order_by_id_and_client_id() -> None:
    async with running(steps=STEPS) as hl, asyncio.timeout(60):
        account = hl.accounts[0]
        order = next(o for o in account.orders.values() if o.status == "closed" and o.client_order_id)
        async with client(hl.config(account)) as ex:
            check_order(await ex.fetch_order(order.order_id), object_order(order), "closed")
            by_cloid = await ex.fetch_order("", params={"clientOrderId": order.client_order_id})
            assert by_cloid["id"] == order.order_id
            with pytest.raises(ccxt.OrderNotFound):
                await ex.fetch_order("123")


async def test_live_scenario_streams_converge_to_ground_truth() -> None:
    """With the engine running, what the sockets delivered ends up equal to the ledger."""
    async with running(steps=50, rate_per_s=400, accounts=1) as hl, asyncio.timeout(90):
        account = hl.accounts[0]
        async with client(hl.config(account)) as ex:
            await ex.load_markets()
            await ex.watch_balance()
            await ex.watch_my_trades()
            heard = subscribes(hl.sim, account, "orderUpdates")
            orders_task = asyncio.ensure_future(ex.watch_orders())
            await subscribed_beyond(hl.sim, account, heard, "orderUpdates")
            fills_before = len(account.fills)
            hl.sim.start_engine()
            await until(lambda: len(account.fills) >= fills_before + 20, "the engine traded")
            await hl.sim.stop_engine()
            await orders_task
            assert 0 < len(account.fills) < 900, "inside ccxt's 1000-row caches"
            expected = {f.trade_id for f in account.fills}

            def converged() -> bool:
                """The last pushes may still be in flight after the engine stopped."""
                if {t["id"] for t in ex.myTrades} != expected:
                    return False
                return all(
                    o["status"] == account.orders[o["id"]].status
                    and o["filled"] == approx(account.orders[o["id"]].filled)
                    for o in ex.orders
                )

            deadline = asyncio.get_running_loop().time() + 60
            while not converged() and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
            assert {t["id"] for t in ex.myTrades} == expected
            seen = {o["id"]: o for o in ex.orders}
            assert seen, "the engine placed or changed orders while watched"
            for order_id, parsed in seen.items():
                order = account.orders[order_id]
                assert parsed["status"] == order.status  # the simulator uses ccxt's status names
                assert parsed["filled"] == approx(order.filled)
            check_balance(await ex.watch_balance(), account)  # the periodic push after the run
