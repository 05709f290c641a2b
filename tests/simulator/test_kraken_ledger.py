"""Kraken's ledger as ccxt reads it (``fetch_ledger`` over ``Ledgers``, ``fetch_ledger_entry`` over
``QueryLedgers``) and as the WebSocket v2 ``balances`` channel pushes it: every ledger entry of the
truth, with Kraken's own ids, types and fees."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import ccxt
import pytest
from kraken_helpers import approx, client
from ledger_helpers import START_MS, entries_of, funded_sim
from sim_clock import step_scenario

from fullon_account_service.simulator.venues.kraken import render

pytestmark = pytest.mark.asyncio


async def _all_pages(ex: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for _ in range(100):
        page = await ex.fetch_ledger(since=START_MS - 1000, params={"ofs": len(rows)})
        rows += page
        if len(page) < 50:
            return rows
    raise AssertionError("more pages than expected")


async def test_fetch_ledger_pages_through_every_entry() -> None:
    async with funded_sim("kraken") as (sim, account, _), client(sim.client_config(account)) as ex:
        wanted = entries_of(account)
        assert {e.reason for e in wanted.values()} == {
            "deposit",
            "withdrawal",
            "transfer_in",
            "transfer_out",
            "rebate",
            "adjustment",
        }
        rows = await _all_pages(ex)
        assert len(rows) > 50
        assert sorted(r["id"] for r in rows) == sorted(wanted)
        for row in rows:
            entry = wanted[row["id"]]
            assert row["currency"] == entry.currency
            assert row["info"]["type"] == entry.raw_type
            assert row["direction"] == ("out" if entry.amount < 0 else "in")
            assert row["amount"] == approx(abs(entry.amount))
            assert row["fee"]["cost"] == approx(entry.fee)
            assert row["after"] == approx(entry.balance_after)
            assert row["timestamp"] == entry.ts_ms
        newest = account.ledger[-1]
        one = await ex.fetch_ledger_entry(newest.entry_id)
        assert one["id"] == newest.entry_id and one["amount"] == approx(abs(newest.amount))


async def test_ledger_filters_and_bad_signature() -> None:
    async with funded_sim("kraken", steps=600) as (sim, account, _):
        async with client(sim.client_config(account)) as ex:
            usd = await ex.fetch_ledger("USD", since=START_MS - 1000)
            assert {r["id"] for r in usd} == {e.entry_id for e in account.ledger if e.currency == "USD"}
            deposits = await ex.fetch_ledger(since=START_MS - 1000, params={"type": "deposit"})
            assert {r["id"] for r in deposits} == set(entries_of(account, "deposit"))
        config = sim.client_config(account)
        async with client({**config, "secret": "AAAA" + config["secret"][4:]}) as ex:
            with pytest.raises(ccxt.AuthenticationError, match="Invalid key"):
                await ex.fetch_ledger()


async def test_deposit_and_withdrawal_status_match_the_ledger_refids() -> None:
    async with funded_sim("kraken", steps=600) as (sim, account, _), client(sim.client_config(account)) as ex:
        for fetch, reason in ((ex.fetch_deposits, "deposit"), (ex.fetch_withdrawals, "withdrawal")):
            wanted = {render.ledger_ref(e): e for e in entries_of(account, reason).values()}
            assert wanted
            parsed = await fetch(since=START_MS - 1000)
            assert sorted(t["id"] for t in parsed) == sorted(wanted)
            for t in parsed:
                entry = wanted[t["id"]]
                assert (t["type"], t["currency"], t["status"]) == (reason, entry.currency, "ok")
                assert t["amount"] == approx(abs(entry.amount))
                assert t["fee"]["cost"] == approx(entry.fee)
                assert t["timestamp"] == entry.ts_ms // 1000 * 1000


async def test_balances_channel_carries_each_entry_with_its_ledger_id() -> None:
    async with (
        funded_sim("kraken", steps=10) as (sim, account, clock),
        client(sim.client_config(account)) as ex,
        aiohttp.ClientSession() as http,
        asyncio.timeout(30),
    ):
        token = (await ex.private_post_getwebsocketstoken())["result"]["token"]
        url = sim.base_url("kraken").replace("http", "ws") + "/v2"
        async with http.ws_connect(url) as ws:
            await ws.receive_json()  # status
            await ws.send_json({"method": "subscribe", "params": {"channel": "balances", "token": token}})
            while (await ws.receive_json()).get("type") != "snapshot":
                pass
            before = len(account.ledger)
            step_scenario(sim, clock, 800, 41)
            wanted = {e.entry_id: e for e in account.ledger[before:]}
            assert wanted
            seen: dict[str, dict[str, Any]] = {}
            while set(seen) != set(wanted):
                message = await ws.receive_json()
                for row in message.get("data", []):
                    if row.get("type") != "trade":
                        seen[row["ledger_id"]] = row
        for ledger_id, row in seen.items():
            entry = wanted[ledger_id]
            assert (row["asset"], row["type"]) == (entry.currency, entry.raw_type)
            assert row["amount"] == approx(entry.amount) and row["fee"] == approx(entry.fee)
            assert row["balance"] == approx(entry.balance_after)
