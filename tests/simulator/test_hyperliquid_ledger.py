"""Hyperliquid's ledger as ccxt reads it (``fetch_funding_history``, ``fetch_ledger``,
``fetch_deposits``, ``fetch_withdrawals`` over ``/info``) and as the ``userFundings`` /
``userNonFundingLedgerUpdates`` subscriptions push it: every ledger entry of the truth, once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from hyperliquid_helpers import client
from ledger_helpers import START_MS, entries_of, funded_sim
from sim_clock import step_scenario

from fullon_account_service.simulator.ids import hyperliquid_funding_id

pytestmark = pytest.mark.asyncio


def _approx(value: float) -> Any:
    return pytest.approx(value, rel=1e-9, abs=1e-9)


async def _all(fetch: Callable[[int], Awaitable[list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Page on from the last row's time, as the venue's 500-row answers require."""
    rows: list[dict[str, Any]] = []
    since = START_MS
    for _ in range(100):
        page = await fetch(since)
        rows += page
        if len(page) < 500:
            return rows
        since = page[-1]["timestamp"] + 1
    raise AssertionError("more pages than expected")


async def test_funding_history_names_the_symbol_and_the_signed_amount() -> None:
    async with funded_sim("hyperliquid") as (sim, account, _), client(sim.client_config(account)) as ex:
        wanted = entries_of(account, "funding")
        assert len(wanted) > 3
        rows = await _all(lambda since: ex.fetch_funding_history(since=since))
        assert len(rows) == len(wanted)
        for row in rows:
            coin = row["symbol"].split("/")[0]
            entry = wanted[hyperliquid_funding_id(coin, row["timestamp"])]
            assert row["symbol"] == entry.symbol
            assert row["code"] == entry.currency == "USDC"
            assert row["amount"] == _approx(entry.amount)
            assert row["rate"] == _approx(entry.funding.rate if entry.funding else 0.0)


async def test_ledger_deposits_and_withdrawals() -> None:
    async with funded_sim("hyperliquid") as (sim, account, _), client(sim.client_config(account)) as ex:
        wanted = {i: e for i, e in entries_of(account).items() if e.reason != "funding"}
        assert {e.reason for e in wanted.values()} == {
            "deposit",
            "withdrawal",
            "transfer_in",
            "transfer_out",
            "liquidation",
        }
        rows = await _all(lambda since: ex.fetch_ledger(since=since))
        assert sorted(r["id"] for r in rows) == sorted(wanted)
        for row in rows:
            entry = wanted[row["id"]]
            assert row["info"]["delta"]["type"] == entry.raw_type
            if entry.reason == "liquidation":  # no amount: the liquidation fills moved the account
                coin = entry.symbol.split("/")[0] if entry.symbol else None
                assert [p["coin"] for p in row["info"]["delta"]["liquidatedPositions"]] == [coin]
                continue
            assert row["amount"] == _approx(abs(entry.amount))
            assert row["timestamp"] == entry.ts_ms
            if entry.reason.startswith("transfer"):
                own = str(account.wallet_address).lower()
                side = "destination" if entry.reason == "transfer_in" else "user"
                assert row["info"]["delta"][side] == own
        for fetch, reason in ((ex.fetch_deposits, "deposit"), (ex.fetch_withdrawals, "withdrawal")):
            parsed = await fetch(since=START_MS)
            of_reason = entries_of(account, reason)
            assert sorted(t["txid"] for t in parsed) == sorted(of_reason)
            for t in parsed:
                assert t["amount"] == _approx(abs(of_reason[t["txid"]].amount))
                if reason == "withdrawal":
                    assert t["fee"]["cost"] == _approx(of_reason[t["txid"]].fee)


async def test_info_ledger_queries_need_a_start_time() -> None:
    async with funded_sim("hyperliquid", steps=10) as (sim, account, _), aiohttp.ClientSession() as http:
        for kind in ("userFunding", "userNonFundingLedgerUpdates"):
            body = {"type": kind, "user": account.wallet_address}
            async with http.post(sim.base_url("hyperliquid") + "/info", json=body) as resp:
                assert resp.status == 422 and "startTime" in await resp.text()


async def test_subscriptions_push_a_snapshot_then_each_new_entry() -> None:
    async with (
        funded_sim("hyperliquid") as (sim, account, clock),
        aiohttp.ClientSession() as http,
        asyncio.timeout(30),
    ):
        url = sim.base_url("hyperliquid").replace("http", "ws") + "/ws"
        seen: dict[str, list[dict[str, Any]]] = {"userFundings": [], "userNonFundingLedgerUpdates": []}
        async with http.ws_connect(url) as ws:
            for topic in seen:
                sub = {"type": topic, "user": account.wallet_address}
                await ws.send_str(json.dumps({"method": "subscribe", "subscription": sub}))
                assert (await ws.receive_json())["channel"] == "subscriptionResponse"
                snapshot = await ws.receive_json()
                assert snapshot["channel"] == topic and snapshot["data"]["isSnapshot"] is True
                seen[topic] += next(v for k, v in snapshot["data"].items() if isinstance(v, list))
            before = len(account.ledger)
            step_scenario(sim, clock, 600, 41)
            want_total = len(account.ledger)
            assert want_total > before
            while sum(len(rows) for rows in seen.values()) < want_total:
                message = await ws.receive_json()
                assert "isSnapshot" not in message["data"]
                seen[message["channel"]] += next(v for v in message["data"].values() if isinstance(v, list))
        fundings = {hyperliquid_funding_id(r["coin"], r["time"]): r for r in seen["userFundings"]}
        others = {r["hash"]: r for r in seen["userNonFundingLedgerUpdates"]}
        assert set(fundings) == set(entries_of(account, "funding"))
        assert set(others) | set(fundings) == set(entries_of(account))
        for key, row in fundings.items():
            assert float(row["usdc"]) == _approx(entries_of(account)[key].amount)
