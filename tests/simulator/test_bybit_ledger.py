"""Bybit's ledger as ccxt reads it: the transaction log (``fetch_ledger``), the deposit and
withdrawal records and the ``Funding`` executions give back every ledger entry of the truth."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from bybit_helpers import approx, client
from ledger_helpers import START_MS, entries_of, funded_sim

from fullon_account_service.simulator.model import ExecKind
from fullon_account_service.simulator.server import Simulator

pytestmark = pytest.mark.asyncio


def _subscribed(sim: Simulator, channel: str) -> bool:
    return any(row["channels"].get(channel, {}).get("active") for row in sim.world.subscriptions.as_json())


async def test_transaction_log_lists_every_entry_but_deposits_and_withdrawals() -> None:
    async with funded_sim("bybit") as (sim, account, _), client(sim.client_config(account)) as ex:
        rows = await ex.fetch_ledger(since=START_MS, params={"paginate": True, "paginationCalls": 100})
        wanted = {e.entry_id: e for e in account.ledger if e.reason not in ("deposit", "withdrawal")}
        assert {e.reason for e in wanted.values()} >= {"funding", "transfer_in", "transfer_out"}
        assert sorted(r["id"] for r in rows) == sorted(wanted)
        for row in rows:
            entry = wanted[row["id"]]
            assert row["currency"] == entry.currency
            assert row["info"]["type"] == entry.raw_type
            terms = entry.liquidation  # a liquidation's row repeats its fill's cash flow
            moved = entry.amount - entry.fee if terms is None else terms.cash_flow - terms.fee
            assert row["direction"] == ("out" if moved < 0 else "in")
            assert row["amount"] == approx(abs(moved))
            assert row["after"] == approx(entry.balance_after)
            assert row["timestamp"] == entry.ts_ms
            if entry.reason == "funding":
                assert row["info"]["tradeId"] == entry.entry_id
                assert row["info"]["symbol"] == entry.symbol.replace("/", "").split(":")[0]


@pytest.mark.parametrize(
    ("kind", "exec_type", "create_type", "log_type"),
    [
        ("bust", "BustTrade", "CreateByTakeOver_PassThrough", "LIQUIDATION"),
        ("adl", "AdlTrade", "CreateByAdl_PassThrough", "ADL"),
    ],
)
async def test_a_liquidation_row_is_its_executions_cash_flow(
    kind: ExecKind, exec_type: str, create_type: str, log_type: str
) -> None:
    """As Bybit documents it: the venue's closing execution (``execType``, ``createType`` of the
    v5 enums) and its transaction-log row share ``tradeId`` = ``execId``, qty, price and fee; the
    row's ``change`` (= cashFlow + funding - fee) is the wallet's move and ``cashBalance`` the
    wallet after it, so the execution carries all the money and the row repeats it."""
    async with funded_sim("bybit") as (sim, account, _), client(sim.client_config(account)) as ex:
        symbol = sorted(account.positions)[0]
        settle = symbol.split(":")[1]
        before = account.balances[settle].total
        fill = sim.ledger.liquidate(account, symbol, kind, account.positions[symbol].mark_price)
        execs = await ex.fetch_my_trades(symbol, fill.ts_ms, None, {"execType": ""})
        [execution] = [t["info"] for t in execs if t["id"] == fill.trade_id]
        log = await ex.fetch_ledger(settle, fill.ts_ms, None, {"type": log_type})
        [row] = [r["info"] for r in log]
        assert (execution["execType"], execution["createType"]) == (exec_type, create_type)
        assert row["tradeId"] == execution["execId"] and row["orderId"] == execution["orderId"]
        assert (row["side"], row["qty"], row["tradePrice"]) == (
            execution["side"],
            execution["execQty"],
            execution["execPrice"],
        )
        assert row["fee"] == execution["execFee"] and row["size"] == "0"
        change = float(row["change"])
        assert change == approx(float(row["cashFlow"]) - float(row["fee"]))
        assert change == approx(account.balances[settle].total - before)
        assert float(row["cashBalance"]) == approx(account.balances[settle].total)


async def test_deposit_and_withdrawal_records() -> None:
    async with funded_sim("bybit") as (sim, account, _), client(sim.client_config(account)) as ex:
        deposits = await ex.fetch_deposits(since=START_MS, params={"paginate": True})
        withdrawals = await ex.fetch_withdrawals(since=START_MS, params={"paginate": True})
        for parsed, reason in ((deposits, "deposit"), (withdrawals, "withdrawal")):
            wanted = entries_of(account, reason)
            assert wanted
            assert sorted(t["id"] for t in parsed) == sorted(wanted)
            for t in parsed:
                entry = wanted[t["id"]]
                assert t["type"] == reason
                assert t["currency"] == entry.currency
                assert t["amount"] == approx(abs(entry.amount))
                assert t["timestamp"] == entry.ts_ms
                assert t["status"] == "ok"
                if reason == "withdrawal":
                    assert t["fee"]["cost"] == approx(entry.fee)


async def test_funding_executions_match_the_ledger() -> None:
    async with funded_sim("bybit") as (sim, account, _), client(sim.client_config(account)) as ex:
        fundings = entries_of(account, "funding")
        rows: list[dict[str, Any]] = []
        cursor = ""
        for _ in range(100):
            response = await ex.private_get_v5_execution_list(
                {"category": "linear", "execType": "Funding", "startTime": START_MS, "cursor": cursor}
            )
            rows += response["result"]["list"]
            cursor = response["result"]["nextPageCursor"]
            if not cursor:
                break
        assert {r["execId"] for r in rows} == set(fundings)
        for row in rows:
            assert float(row["execFee"]) == approx(-fundings[row["execId"]].amount)


async def test_ledger_refuses_a_bad_signature_and_a_long_window() -> None:
    async with funded_sim("bybit", steps=10) as (sim, account, _):
        async with client({**sim.client_config(account), "secret": "wrong"}) as ex:
            with pytest.raises(Exception, match="10004"):
                await ex.fetch_ledger()
        async with client(sim.client_config(account)) as ex:
            with pytest.raises(Exception, match="10001"):
                await ex.fetch_ledger(params={"startTime": START_MS, "endTime": START_MS + 8 * 86_400_000})
            # startTime alone spans 24 h: from a day and a bit before the entry, it is not listed
            entry = sim.ledger.book(account, "USDT", 5.0, "adjustment")
            assert entry.entry_id not in [
                r["id"] for r in await ex.fetch_ledger(since=entry.ts_ms - 86_400_001)
            ]
            assert entry.entry_id in [r["id"] for r in await ex.fetch_ledger(since=entry.ts_ms - 86_399_000)]


async def test_funding_is_pushed_on_the_execution_topic() -> None:
    async with funded_sim("bybit", steps=300) as (sim, account, _), client(sim.client_config(account)) as ex:
        symbol = next(s for s, p in sorted(account.positions.items()) if p.contracts)
        ex.options["watchMyTrades"] = {"execType": ["Funding"]}  # ccxt keeps trade executions only by default
        pending = asyncio.ensure_future(ex.watch_my_trades())
        try:
            async with asyncio.timeout(60):
                while not _subscribed(sim, "execution"):
                    await asyncio.sleep(0.01)
                entry = sim.ledger.funding(account, symbol, 0.0001)
                assert entry is not None
                pushed = await pending
        finally:
            pending.cancel()
        assert [(t["id"], t["info"]["execType"]) for t in pushed] == [(entry.entry_id, "Funding")]
        assert float(pushed[0]["info"]["execFee"]) == approx(-entry.amount)


async def test_a_transfer_that_waits_is_listed_pending_then_as_it_ended() -> None:
    """A deposit is listed pending from its request and booked when it completes; a failed
    withdrawal is listed failed and books nothing; the truth holds only what was booked."""
    async with (
        funded_sim("bybit", steps=50) as (sim, account, clock),
        client(sim.client_config(account)) as ex,
    ):
        deposit = sim.ledger.request_transfer(account, "deposit", "USDT", 250.0)
        withdrawal = sim.ledger.request_transfer(account, "withdrawal", "USDT", 10.0)
        before = account.balances["USDT"].total
        [seen] = [
            t for t in await ex.fetch_deposits(since=deposit.requested_ms) if t["id"] == deposit.transfer_id
        ]
        assert (seen["status"], seen["timestamp"]) == ("pending", deposit.requested_ms)
        clock.advance(60_000)
        booked = sim.ledger.settle_transfer(account, deposit, done=True)
        assert booked is not None and booked.ts_ms > deposit.requested_ms
        assert sim.ledger.settle_transfer(account, withdrawal, done=False) is None
        assert account.balances["USDT"].total == approx(before + 250.0)

        deposits = await ex.fetch_deposits(since=deposit.requested_ms)
        [done] = [t for t in deposits if t["id"] == deposit.transfer_id]
        assert (done["status"], done["timestamp"], done["amount"]) == ("ok", booked.ts_ms, approx(250.0))
        withdrawals = await ex.fetch_withdrawals(since=withdrawal.requested_ms)
        [failed] = [t for t in withdrawals if t["id"] == withdrawal.transfer_id]
        assert (failed["status"], failed["timestamp"]) == ("failed", withdrawal.requested_ms)
        assert failed["updated"] == withdrawal.settled_ms
        truth = {e["id"]: e for e in sim.truth()["accounts"][0]["ledger"]}
        assert truth[deposit.transfer_id]["ts_ms"] == booked.ts_ms
        assert withdrawal.transfer_id not in truth
