"""Ledger rows in each venue's real shapes (written here, per the venues' docs and ccxt's own
comments) through real ccxt parsers and the normaliser: the reason mapping, the signed amount
from the account's side excluding the fee, the symbol of funding, one ledger id whichever channel
saw the entry, and bad rows dead-lettered with a reason."""

from __future__ import annotations

from typing import Any

import pytest
from venue_shapes import Venue, venue

from fullon_account_service.contract import LedgerEntry, LedgerReason, Source
from fullon_account_service.producers.normalise import Batch

USER = "0x5e9ee1089755c3435139848e47e6635505d5a13a"
OTHER_USER = "0x1111111111111111111111111111111111111111"


def entries(batch: Batch) -> list[LedgerEntry]:
    assert not batch.dead, [d.reason for d in batch.dead]
    out = [e.payload for e in batch.envelopes]
    assert all(isinstance(p, LedgerEntry) for p in out)
    return out  # type: ignore[return-value]


def one(v: Venue, row: dict[str, Any], source: Source = Source.REST) -> LedgerEntry:
    (entry,) = entries(v.normaliser.ledger([row], source))
    return entry


# -- Bybit ------------------------------------------------------------------------------------


@pytest.fixture
async def bybit() -> Any:
    async with venue("bybit") as v:
        yield v


def _bybit_log(**kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": "592324_BTCUSDT_161440249321",
        "symbol": "BTCUSDT",
        "category": "linear",
        "side": "Buy",
        "transactionTime": "1733800000000",
        "type": "SETTLEMENT",
        "qty": "0.01",
        "size": "0.01",
        "currency": "USDT",
        "tradePrice": "60000",
        "funding": "0.06",
        "fee": "0",
        "cashFlow": "0",
        "change": "-0.06",
        "cashBalance": "999.94",
        "feeRate": "0.0001",
        "bonusChange": "",
        "tradeId": "c79e468e-b27a-420c-99e1-c9321d43a0fe",
        "orderId": "",
        "orderLinkId": "",
    }
    row.update(kw)
    return row


def _bybit_funding_exec() -> dict[str, Any]:
    return {
        "category": "linear",
        "symbol": "BTCUSDT",
        "execFee": "0.06",
        "execId": "c79e468e-b27a-420c-99e1-c9321d43a0fe",
        "execPrice": "60000",
        "execQty": "0.01",
        "execType": "Funding",
        "execValue": "600",
        "feeRate": "0.0001",
        "isMaker": False,
        "orderId": "",
        "orderLinkId": "",
        "side": "Buy",
        "execTime": "1733800000000",
        "feeCurrency": "",
    }


async def test_bybit_settlement_is_funding_on_its_symbol(bybit: Venue) -> None:
    parsed = bybit.exchange.parse_ledger_entry(_bybit_log())
    assert parsed["type"] == "trade"  # ccxt's word: it cannot tell funding from a trade
    entry = one(bybit, parsed)
    assert entry.reason is LedgerReason.FUNDING and entry.raw_type == "SETTLEMENT"
    assert entry.symbol == "BTC/USDT:USDT" and entry.currency == "USDT"
    assert entry.amount == pytest.approx(-0.06) and entry.balance_after == pytest.approx(999.94)
    assert entry.ex_ledger_id == "c79e468e-b27a-420c-99e1-c9321d43a0fe"
    assert entry.time_ms == 1733800000000


async def test_bybit_funding_execution_is_the_same_entry_as_its_log_row(bybit: Venue) -> None:
    log = bybit.normaliser.ledger([bybit.exchange.parse_ledger_entry(_bybit_log())], Source.REST)
    pushed = bybit.normaliser.ledger([{"info": _bybit_funding_exec()}], Source.WS)
    (ws,) = entries(pushed)
    assert ws.reason is LedgerReason.FUNDING and ws.symbol == "BTC/USDT:USDT"
    assert ws.amount == pytest.approx(-0.06) and ws.currency == "USDT"
    assert pushed.envelopes[0].event_id == log.envelopes[0].event_id


async def test_bybit_trade_rows_are_fills_not_ledger(bybit: Venue) -> None:
    trade = bybit.exchange.parse_ledger_entry(_bybit_log(type="TRADE", change="-0.36", fee="0.36"))
    batch = bybit.normaliser.ledger([trade], Source.REST)
    assert not batch.envelopes and not batch.dead


async def test_bybit_amount_excludes_the_fee_and_transfers_are_signed(bybit: Venue) -> None:
    ex = bybit.exchange
    t_in = one(bybit, ex.parse_ledger_entry(_bybit_log(id="7", type="TRANSFER_IN", change="100", symbol="")))
    assert (t_in.reason, t_in.amount, t_in.symbol) == (LedgerReason.TRANSFER_IN, 100.0, None)
    out = one(
        bybit, ex.parse_ledger_entry(_bybit_log(id="8", type="TRANSFER_OUT", change="-50.5", fee="0.5"))
    )
    assert out.reason is LedgerReason.TRANSFER_OUT
    assert out.amount == pytest.approx(-50.0) and out.fee == pytest.approx(0.5)  # moved -50.5 in all
    odd = one(bybit, ex.parse_ledger_entry(_bybit_log(id="9", type="AIRDROP", change="1")))
    assert (odd.reason, odd.raw_type) == (LedgerReason.OTHER, "AIRDROP")


async def test_bybit_bad_rows_are_dead_lettered_with_a_reason(bybit: Venue) -> None:
    ex = bybit.exchange
    batch = bybit.normaliser.ledger(
        [
            ex.parse_ledger_entry({k: v for k, v in _bybit_log().items() if k != "change"}),
            ex.parse_ledger_entry(_bybit_log(symbol="NOPEUSDT")),
            "not a row",
        ],
        Source.REST,
    )
    assert not batch.envelopes
    reasons = [d.reason for d in batch.dead]
    assert any("change" in r for r in reasons), reasons
    assert any("NOPEUSDT" in r for r in reasons), reasons
    assert any("not an object" in r for r in reasons), reasons


async def test_bybit_liquidation_rows_repeat_their_fill_and_move_nothing(bybit: Venue) -> None:
    ex = bybit.exchange
    for kind in ("LIQUIDATION", "ADL"):
        row = _bybit_log(id=f"liq-{kind}", type=kind, change="-120.5", cashFlow="-120", fee="0.5", funding="")
        entry = one(bybit, ex.parse_ledger_entry(row))
        assert (entry.reason, entry.raw_type, entry.symbol) == (
            LedgerReason.LIQUIDATION,
            kind,
            "BTC/USDT:USDT",
        )
        assert (entry.amount, entry.fee or 0.0, entry.ex_ledger_id) == (0.0, 0.0, f"liq-{kind}")
        assert entry.balance_after == pytest.approx(999.94)


def _bybit_withdrawal(status: str, **kw: Any) -> dict[str, Any]:
    row = {
        "coin": "USDT",
        "chain": "ETH",
        "amount": "25",
        "txID": "0xabc",
        "status": status,
        "toAddress": "0xdef",
        "tag": "",
        "withdrawFee": "1",
        "createTime": "1733800000000",
        "updateTime": "1733800900000",
        "withdrawId": "W1",
        "withdrawType": 0,
    }
    row.update(kw)
    return row


async def test_bybit_records_count_once_done_at_their_end_and_pending_ones_are_followed(
    bybit: Venue,
) -> None:
    """A withdrawal record is booked when the venue finished it; a pending one is noted to be read
    again (under its record time); a failed, canceled or rejected one books nothing and ends."""
    ex = bybit.exchange
    done = one(bybit, ex.parse_transaction(_bybit_withdrawal("success")))
    assert (done.reason, done.amount, done.fee, done.time_ms) == (
        LedgerReason.WITHDRAWAL,
        -25.0,
        1.0,
        1733800900000,
    )
    waiting = bybit.normaliser.ledger([ex.parse_transaction(_bybit_withdrawal("Pending"))], Source.REST)
    assert not waiting.envelopes and not waiting.dead
    assert waiting.pending == {"withdrawal:W1": 1733800000000}
    for status in ("Fail", "CancelByUser", "Reject"):
        ended = bybit.normaliser.ledger([ex.parse_transaction(_bybit_withdrawal(status))], Source.REST)
        assert not ended.envelopes and not ended.dead and not ended.pending
        assert ended.void == {"withdrawal:W1"}, status
    deposit = {
        "id": "D1",
        "coin": "USDT",
        "amount": "3",
        "status": 1,
        "successAt": "1733800000000",
        "depositFee": "",
    }
    assert bybit.normaliser.ledger([ex.parse_transaction(deposit)], Source.REST).pending == {
        "deposit:D1": 1733800000000
    }
    failed = bybit.normaliser.ledger([ex.parse_transaction({**deposit, "status": 4})], Source.REST)
    assert failed.void == {"deposit:D1"} and not failed.envelopes


# -- Kraken -----------------------------------------------------------------------------------


@pytest.fixture
async def kraken() -> Any:
    async with venue("kraken") as v:
        yield v


def _kraken_ledger(key: str, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": key,
        "refid": "FTQcuak-V6Za8qrWnhzTx67yYHz8Tg",
        "time": 1733800000.1234,
        "type": "deposit",
        "subtype": "",
        "aclass": "currency",
        "asset": "ZUSD",
        "amount": "1000.0000",
        "fee": "0.0000",
        "balance": "6000.0000",
    }
    row.update(kw)
    return row


async def test_kraken_ledger_reasons_and_signs(kraken: Venue) -> None:
    ex = kraken.exchange
    deposit = one(kraken, ex.parse_ledger_entry(_kraken_ledger("L1")))
    assert (deposit.reason, deposit.currency, deposit.amount) == (LedgerReason.DEPOSIT, "USD", 1000.0)
    assert deposit.balance_after == 6000.0 and deposit.ex_ledger_id == "L1"
    assert deposit.time_ms == 1733800000123
    withdrawal = one(
        kraken,
        ex.parse_ledger_entry(
            _kraken_ledger("L2", type="withdrawal", asset="XXBT", amount="-0.5000", fee="0.0005")
        ),
    )
    assert (withdrawal.reason, withdrawal.currency) == (LedgerReason.WITHDRAWAL, "BTC")
    assert withdrawal.amount == -0.5 and withdrawal.fee == pytest.approx(0.0005)
    out = one(kraken, ex.parse_ledger_entry(_kraken_ledger("L3", type="transfer", amount="-10")))
    assert out.reason is LedgerReason.TRANSFER_OUT
    interest = one(kraken, ex.parse_ledger_entry(_kraken_ledger("L4", type="rollover", amount="-0.2")))
    assert (interest.reason, interest.raw_type) == (LedgerReason.INTEREST, "rollover")
    trade = kraken.normaliser.ledger([ex.parse_ledger_entry(_kraken_ledger("L5", type="trade"))], Source.REST)
    assert not trade.envelopes and not trade.dead


# -- Hyperliquid ------------------------------------------------------------------------------


@pytest.fixture
async def hyperliquid() -> Any:
    async with venue("hyperliquid") as v:
        yield v


def _hl_funding(time: int = 1733803200057, usdc: str = "-0.75") -> dict[str, Any]:
    return {
        "time": time,
        "hash": "0x0000000000000000000000000000000000000000000000000000000000000000",
        "delta": {
            "type": "funding",
            "coin": "ETH",
            "usdc": usdc,
            "szi": "1.5",
            "fundingRate": "0.0000125",
            "nSamples": None,
        },
    }


def _hl_update(delta: dict[str, Any], hash_: str = "0xab12") -> dict[str, Any]:
    return {"time": 1733800000531, "hash": hash_, "delta": delta}


async def test_hyperliquid_funding_on_its_symbol_one_id_per_coin_and_time(hyperliquid: Venue) -> None:
    ex = hyperliquid.exchange
    first = ex.parse_income(_hl_funding(1733803200057))
    second = ex.parse_income(_hl_funding(1733806800057, usdc="0.4"))
    paid, received = entries(hyperliquid.normaliser.ledger([first, second], Source.REST))
    assert (paid.reason, paid.symbol, paid.currency) == (LedgerReason.FUNDING, "ETH/USDC:USDC", "USDC")
    assert paid.amount == -0.75 and received.amount == pytest.approx(0.4)
    assert paid.ex_ledger_id != received.ex_ledger_id  # the venue's zero hash is no id


async def test_hyperliquid_ledger_updates_signed_from_our_side(hyperliquid: Venue) -> None:
    ex = hyperliquid.exchange

    def read(delta: dict[str, Any], hash_: str) -> LedgerEntry:
        return one(hyperliquid, {**ex.parse_ledger_entry(_hl_update(delta, hash_)), "account": USER})

    deposit = read({"type": "deposit", "usdc": "500.0"}, "0x01")
    assert (deposit.reason, deposit.amount, deposit.currency) == (LedgerReason.DEPOSIT, 500.0, "USDC")
    withdraw = read({"type": "withdraw", "usdc": "100.0", "nonce": 1, "fee": "1.0"}, "0x02")
    assert (withdraw.reason, withdraw.amount, withdraw.fee) == (LedgerReason.WITHDRAWAL, -100.0, 1.0)
    sent = read(
        {"type": "internalTransfer", "usdc": "20", "user": USER, "destination": OTHER_USER, "fee": "0"},
        "0x03",
    )
    assert (sent.reason, sent.amount) == (LedgerReason.TRANSFER_OUT, -20.0)
    got = read(
        {"type": "internalTransfer", "usdc": "20", "user": OTHER_USER, "destination": USER, "fee": "0"},
        "0x04",
    )
    assert (got.reason, got.amount) == (LedgerReason.TRANSFER_IN, 20.0)
    liquidation = read(
        {
            "type": "liquidation",
            "liquidatedNtlPos": "3000",
            "accountValue": "10",
            "leverageType": "Cross",
            "liquidatedPositions": [{"coin": "ETH", "szi": "1"}],
        },
        "0x05",
    )
    assert (liquidation.reason, liquidation.symbol, liquidation.amount) == (
        LedgerReason.LIQUIDATION,
        "ETH/USDC:USDC",
        0.0,
    )
    between_wallets = ex.parse_ledger_entry(
        _hl_update({"type": "accountClassTransfer", "usdc": "5", "toPerp": True})
    )
    batch = hyperliquid.normaliser.ledger([between_wallets], Source.REST)
    assert not batch.envelopes and not batch.dead


async def test_hyperliquid_ledger_pushes_but_funding_owe_a_read_of_the_unpushed_spot_wallet(
    hyperliquid: Venue,
) -> None:
    """A transfer moves the spot wallet, which no stream reports; a funding payment only the perp
    account, which is pushed. A REST ledger read owes nothing: it is no news of a move."""
    ex, normaliser = hyperliquid.exchange, hyperliquid.normaliser
    funding = ex.parse_income(_hl_funding())
    between_wallets = ex.parse_ledger_entry(
        _hl_update({"type": "accountClassTransfer", "usdc": "5", "toPerp": True})
    )
    sent = {
        **ex.parse_ledger_entry(
            _hl_update(
                {
                    "type": "spotTransfer",
                    "token": "USDC",
                    "usdc": "3",
                    "user": USER,
                    "destination": OTHER_USER,
                }
            )
        ),
        "account": USER,
    }
    assert not normaliser.ledger([funding], Source.WS).wallet_moved
    assert normaliser.ledger([funding, between_wallets], Source.WS).wallet_moved
    assert normaliser.ledger([sent], Source.WS).wallet_moved
    assert not normaliser.ledger([sent, between_wallets], Source.REST).wallet_moved


# -- a venue without its own adapter ----------------------------------------------------------


async def test_generic_reads_ccxts_unified_entry(kraken: Venue) -> None:
    from fullon_account_service.producers.venues.generic import normalise as generic

    row = {"id": "x", "type": "transaction", "direction": "out", "amount": 3.0}
    assert generic.ledger_fixes(row, {}, {})["signedAmount"] == -3.0
    assert generic.ledger_fixes(row, {}, {})["reason"] is LedgerReason.WITHDRAWAL
    assert generic.ledger_fixes({**row, "type": "cashback"}, {}, {})["reason"] is LedgerReason.REBATE
    with pytest.raises(ValueError, match="fill"):
        generic.ledger_fixes({**row, "type": "trade"}, {}, {})
