"""The ledger's shared machinery: several histories read as one (``merge_reads``), the bounded
memory of published ids (issue 18's rule) and its claim before the bus, the frame tap's bounded
buffer, and the rows each venue pushes read as the same entries as their REST rows."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from test_ledger_normalise import USER, _hl_funding, entries
from venue_shapes import venue

from factories import envelope, ledger_entry
from fullon_account_service.contract import Source
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.history import HistoryRead, merge_reads
from fullon_account_service.producers.live_collector import _cover
from fullon_account_service.producers.published_ids import PublishedIds
from fullon_account_service.producers.session import AccountSession
from fullon_account_service.producers.venues import adapter_for
from fullon_account_service.producers.ws_ledger import LedgerBuffer


def test_merge_reads_complete_only_when_every_read_is() -> None:
    done = HistoryRead(complete=True)
    assert merge_reads([done, HistoryRead(complete=True)]) == HistoryRead(complete=True)
    cut = HistoryRead(complete=False, resume_from_ms=40)
    merged = merge_reads([done, cut, HistoryRead(complete=False, resume_from_ms=30)])
    assert (merged.complete, merged.resume_from_ms, merged.gap_until_ms) == (False, 30, None)


def test_merge_reads_joins_the_gaps_of_newest_first_reads() -> None:
    a = HistoryRead(complete=False, resume_from_ms=10, gap_until_ms=50, read_to_ms=100)
    b = HistoryRead(complete=False, resume_from_ms=20, gap_until_ms=70, read_to_ms=90)
    merged = merge_reads([a, b])
    assert (merged.resume_from_ms, merged.gap_until_ms, merged.read_to_ms) == (10, 70, 90)
    open_gap = merge_reads([a, HistoryRead(complete=False, resume_from_ms=60)])
    assert (open_gap.resume_from_ms, open_gap.gap_until_ms) == (10, None)


def _ledger(n: int, at: int) -> Any:
    return envelope(ledger_entry(f"L{n}", time_ms=at), exchange_ms=at)


def test_published_ids_are_fresh_once_per_read_and_forgotten_in_time() -> None:
    ids = PublishedIds()
    envelopes = [_ledger(n, at=n * 1_000) for n in range(5)]
    ids.remember(envelopes[:4])
    assert len(ids) == 4 and all(e.event_id in ids for e in envelopes[:4])
    assert ids.fresh([envelopes[4], envelopes[1], envelopes[4]]) == [envelopes[4]]
    ids.forget_before(4 * 1_000)
    assert len(ids) == 0 and envelopes[1].event_id not in ids


async def test_a_row_two_readers_hold_at_once_is_sent_once_and_given_back_on_failure() -> None:
    ids = PublishedIds()
    sent: list[Any] = []
    gate = asyncio.Event()

    async def slow_send(batch: list[Any]) -> None:
        await gate.wait()
        sent.extend(batch)

    async def fast_send(batch: list[Any]) -> None:
        sent.extend(batch)

    row = _ledger(1, at=10)
    async with asyncio.TaskGroup() as tg:
        first = tg.create_task(ids.publish([row], slow_send))
        await asyncio.sleep(0)
        second = await ids.publish([row], fast_send)  # the stream's copy while REST still sends
        gate.set()
    assert (first.result(), second, sent) == ([row], [], [row])

    async def failing(batch: list[Any]) -> None:
        raise ConnectionError("bus down")

    other = _ledger(2, at=20)
    with pytest.raises(ConnectionError):
        await ids.publish([other], failing)
    assert other.event_id not in ids  # the next read sends it


def test_the_frame_buffer_keeps_the_newest_rows_within_its_bound() -> None:
    class Socket:
        def __init__(self) -> None:
            self.resolved = 0

        def resolve(self, result: Any, message_hash: str) -> None:
            self.resolved += 1

    buffer = LedgerBuffer(lambda message: message["rows"], limit=3)
    socket = Socket()
    buffer.feed(socket, {"rows": [{"n": n} for n in range(5)]})
    buffer.feed(socket, {"rows": []})
    assert buffer.take() == [{"n": 2}, {"n": 3}, {"n": 4}] and socket.resolved == 1
    assert buffer.take() == []


async def test_kraken_balances_ledger_rows_are_the_ledgers_entries() -> None:
    async with venue("kraken") as kraken:
        ex = kraken.exchange
        rest = ex.parse_ledger_entry(
            {
                "id": "L4UESK-KG3EQ-UFO4T5",
                "refid": "R1",
                "time": 1733800000.5,
                "type": "withdrawal",
                "subtype": "",
                "aclass": "currency",
                "asset": "XXBT",
                "amount": "-0.5000000000",
                "fee": "0.0005000000",
                "balance": "1.0000000000",
            }
        )
        message = {
            "channel": "balances",
            "type": "update",
            "data": [
                {
                    "ledger_id": "L4UESK-KG3EQ-UFO4T5",
                    "ref_id": "R1",
                    "timestamp": "2024-12-10T03:06:40.500000Z",
                    "type": "withdrawal",
                    "subtype": "",
                    "asset": "BTC",
                    "asset_class": "currency",
                    "wallet_type": "spot",
                    "wallet_id": "main",
                    "amount": -0.5,
                    "fee": 0.0005,
                    "balance": 1.0,
                    "category": "withdrawal",
                }
            ],
        }
        rows = adapter_for("kraken").normalise.ws_ledger(message, ex.safe_currency_code)
        ws_batch = kraken.normaliser.ledger(rows, Source.WS)
        rest_batch = kraken.normaliser.ledger([rest], Source.REST)
        (ws,), (by_rest,) = entries(ws_batch), entries(rest_batch)
        assert ws == by_rest
        assert ws_batch.envelopes[0].event_id == rest_batch.envelopes[0].event_id
        snapshot = {**message, "type": "snapshot"}
        assert adapter_for("kraken").normalise.ws_ledger(snapshot, ex.safe_currency_code) == []


async def test_kraken_trade_rows_on_balances_are_not_buffered() -> None:
    """A fill's two ``trade`` rows never reach the ledger buffer: the normaliser would drop them
    (the fill is the fact), and a burst of fills held them decoded meanwhile (issue 18)."""
    async with venue("kraken") as kraken:
        ex = kraken.exchange

        def row(ledger_id: str, kind: str, asset: str, amount: float) -> dict[str, Any]:
            return {
                "ledger_id": ledger_id,
                "ref_id": "T1",
                "timestamp": "2024-12-10T03:06:40.500000Z",
                "type": kind,
                "subtype": "",
                "asset": asset,
                "asset_class": "currency",
                "wallet_type": "spot",
                "wallet_id": "main",
                "amount": amount,
                "fee": 0.0,
                "balance": 1.0,
                "category": kind,
            }

        trades = [row("L1", "trade", "BTC", 0.5), row("L2", "trade", "USD", -30_000.0)]
        deposit = row("L3", "deposit", "USD", 100.0)
        message = {"channel": "balances", "type": "update", "data": [*trades, deposit]}
        rows = adapter_for("kraken").normalise.ws_ledger(message, ex.safe_currency_code)
        assert [r["info"]["ledger_id"] for r in rows] == ["L3"]
        tapped = [{"info": t, "currency": None, "timestamp": None} for t in trades]
        assert kraken.normaliser.ledger(tapped, Source.WS).envelopes == []
        assert len(kraken.normaliser.ledger(rows, Source.WS).envelopes) == 1


async def test_hyperliquid_streamed_funding_is_the_rest_entry() -> None:
    async with venue("hyperliquid") as hl:
        ex = hl.exchange
        rest = hl.normaliser.ledger([ex.parse_income(_hl_funding())], Source.REST)
        delta = _hl_funding()["delta"]
        pushed = {
            "channel": "userFundings",
            "data": {
                "isSnapshot": True,
                "user": USER,
                "fundings": [
                    {"time": 1733803200057, **{k: delta[k] for k in ("coin", "usdc", "szi", "fundingRate")}}
                ],
            },
        }
        rows = adapter_for("hyperliquid").normalise.ws_ledger(pushed, ex.safe_currency_code)
        ws = hl.normaliser.ledger(rows, Source.WS)
        assert entries(ws) == entries(rest)
        assert ws.envelopes[0].event_id == rest.envelopes[0].event_id
        (url, request, _), _ = adapter_for("hyperliquid").reads.ledger_streams(ex)
        assert url == ex.urls["api"]["ws"]["public"]
        assert request["subscription"] == {"type": "userFundings", "user": ex.walletAddress}


async def test_a_failed_ledger_stream_asks_for_one_rest_read_not_fast_polling() -> None:
    session = AccountSession(AccountRef(ex_id=1, uid=1, venue="bybit"), None, None, asyncio.Lock())  # type: ignore[arg-type]
    _cover(session, "ledger")
    assert session.rest_once == {"ledger"} and not session.fast_poll
    _cover(session, "orders")
    assert session.fast_poll == {"orders"}
