"""Bybit v5 ledger endpoints: the unified account's transaction log and the deposit and withdrawal
records, with the rows the venue sends.

``/v5/account/transaction-log`` lists every ledger entry but deposits and withdrawals: funding as
``SETTLEMENT`` (its ``tradeId`` is the ``Funding`` execution's ``execId``), ``TRANSFER_IN`` /
``TRANSFER_OUT``, ``FEE_REFUND``, ``INTEREST`` and ``BONUS``; ``change`` is the signed amount and
``cashBalance`` the balance after it. Trades are not repeated there (they are executions), but a
liquidation's execution is: a ``LIQUIDATION`` (take-over) or ``ADL`` row carries its ``cashFlow``
and ``fee`` under the execution's ``tradeId``.
Deposits and withdrawals are listed by ``/v5/asset/deposit/query-record`` and
``/v5/asset/withdraw/query-record`` (amount unsigned, ``withdrawFee`` on top), from the moment
they are asked for: a transfer that waits (``SimTransfer``) is listed pending, then done (booked
when it completed: a deposit's ``successAt``, a withdrawal's ``updateTime``) or failed (nothing
booked). Records are filtered and paged by when they were asked for. All three page
newest first with ``nextPageCursor``. The log's ``startTime``/``endTime`` may be 7 days apart and a
missing one is 24 h from the other (the last 24 h with neither); the records' may be 30 days apart
(30 days by default), as the venue does.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from fullon_account_service.simulator.model import Market, SimAccount, SimLedgerEntry, SimTransfer
from fullon_account_service.simulator.venues.bybit import render
from fullon_account_service.simulator.venues.bybit.auth import WORLD, signed
from fullon_account_service.simulator.venues.bybit.rest import (
    DAY_MS,
    json_result,
    paginate,
    params_error,
    venue_markets,
    window,
)

MONTH_MS = 30 * DAY_MS
_RECORDS = frozenset({"deposit", "withdrawal"})
_CHAIN = {"USDT": "ETH", "BTC": "BTC", "ETH": "ETH", "SOL": "SOL"}
_DEPOSIT_STATUS = {"pending": 1, "done": 3, "failed": 4}
_WITHDRAWAL_STATUS = {"pending": "Pending", "done": "success", "failed": "Fail"}


def _key(entry: SimLedgerEntry) -> tuple[int, str]:
    return entry.ts_ms, entry.entry_id


def _liquidation_row(entry: SimLedgerEntry, market: Market | None) -> dict[str, Any]:
    """A liquidation's row: the cash flow of its ``BustTrade`` / ``AdlTrade`` execution, under
    that execution's ``tradeId`` (the fill moved the balance; the row repeats it)."""
    terms = entry.liquidation
    assert terms is not None
    return {
        **log_row(dataclasses.replace(entry, liquidation=None), market),
        "side": render.side(terms.side),
        "qty": render.fmt(terms.size),
        "size": "0",
        "tradePrice": render.fmt(terms.price),
        "funding": "",
        "fee": render.fmt(terms.fee),
        "cashFlow": render.fmt(terms.cash_flow),
        "change": render.fmt(terms.cash_flow - terms.fee),
        "tradeId": terms.exec_id,
        "orderId": terms.order_id,
    }


def _record_key(record: _Record) -> tuple[int, str]:
    return record.requested_ms, record.record_id


def log_row(entry: SimLedgerEntry, market: Market | None) -> dict[str, Any]:
    if entry.liquidation is not None:
        return _liquidation_row(entry, market)
    terms = entry.funding
    return {
        "id": entry.entry_id,
        "symbol": market.venue_id if market else "",
        "category": "linear" if market else "",
        "side": render.side(terms.side) if terms else "None",
        "transactionTime": str(entry.ts_ms),
        "type": entry.raw_type,
        "transSubType": "",
        "qty": render.fmt(terms.size) if terms else "0",
        "size": render.fmt(terms.size) if terms else "0",
        "currency": entry.currency,
        "tradePrice": render.fmt(terms.mark_price) if terms else "0",
        "funding": render.fmt(entry.amount) if terms else "",
        "fee": render.fmt(entry.fee),
        "cashFlow": "0",
        "change": render.fmt(entry.amount - entry.fee),
        "cashBalance": render.fmt(entry.balance_after),
        "feeRate": render.fmt(terms.rate) if terms else "0",
        "bonusChange": "",
        "tradeId": entry.entry_id if terms else "",
        "orderId": "",
        "orderLinkId": "",
        "extraFees": "",
    }


@dataclass(frozen=True, slots=True)
class _Record:
    """A deposit or withdrawal record: a booked entry (``done``) or a ``SimTransfer`` that waits
    or failed. The venue filters and pages records by when they were asked for."""

    record_id: str
    currency: str
    amount: float
    fee: float
    requested_ms: int
    settled_ms: int | None
    state: str


def _booked(entry: SimLedgerEntry) -> _Record:
    requested = entry.requested_ms if entry.requested_ms is not None else entry.ts_ms
    return _Record(
        entry.entry_id, entry.currency, abs(entry.amount), entry.fee, requested, entry.ts_ms, "done"
    )


def _waiting(t: SimTransfer) -> _Record:
    return _Record(t.transfer_id, t.currency, t.amount, t.fee, t.requested_ms, t.settled_ms, t.state)


def _transfer(record: _Record) -> dict[str, Any]:
    """What a deposit and a withdrawal record share: the coin, the chain and the on-chain side."""
    tx_hash = hashlib.sha256(record.record_id.encode()).hexdigest()
    return {
        "coin": record.currency,
        "chain": _CHAIN.get(record.currency, "ETH"),
        "amount": render.fmt(record.amount),
        "txID": tx_hash,
        "toAddress": "0x" + tx_hash[:40],
        "tag": "",
    }


def deposit_row(record: _Record) -> dict[str, Any]:
    """``successAt`` is the record's last change (ccxt's timestamp): its completion once done."""
    return {
        "id": record.record_id,
        **_transfer(record),
        "status": _DEPOSIT_STATUS[record.state],
        "depositFee": "",
        "successAt": str(record.settled_ms or record.requested_ms),
        "confirmations": "64" if record.state == "done" else "0",
        "txIndex": "0",
        "blockHash": "",
        "batchReleaseLimit": "-1",
        "depositType": "0",
        "fromAddress": "",
    }


def withdrawal_row(record: _Record) -> dict[str, Any]:
    return {
        "withdrawId": record.record_id,
        **_transfer(record),
        "status": _WITHDRAWAL_STATUS[record.state],
        "withdrawFee": render.fmt(record.fee),
        "createTime": str(record.requested_ms),
        "updateTime": str(record.settled_ms or record.requested_ms),
        "withdrawType": 0,
    }


def _in(entry: SimLedgerEntry, query: Any, coin_param: str, start: int, end: int) -> bool:
    coin = query.get(coin_param, "")
    return start <= entry.ts_ms <= end and (not coin or entry.currency == coin)


@signed
async def transaction_log(request: web.Request, account: SimAccount) -> web.Response:
    query = request.query
    if query.get("accountType", "UNIFIED") != "UNIFIED":
        raise params_error("accountType only support UNIFIED")
    cat = query.get("category", "")
    if cat not in ("", "spot", "linear", "option"):
        raise params_error("Category is invalid")
    start, end = window(query, request.app[WORLD].now_ms(), default_ms=DAY_MS)
    markets = venue_markets(request)
    entries: list[tuple[SimLedgerEntry, Market | None]] = []
    for entry in account.ledger:
        market = markets.get(entry.symbol) if entry.symbol else None
        if entry.reason in _RECORDS or not _in(entry, query, "currency", start, end):
            continue
        if query.get("type") and entry.raw_type != query["type"]:
            continue
        if cat and (market is None or render.category(market) != cat):
            continue
        if query.get("baseCoin") and (market is None or market.base != query["baseCoin"]):
            continue
        entries.append((entry, market))
    page, cursor = paginate(entries, lambda p: _key(p[0]), query, "transaction-log")
    rows = [log_row(e, m) for e, m in page]
    return json_result(request, {"list": rows, "nextPageCursor": cursor})


def _records(request: web.Request, account: SimAccount, reason: str) -> list[_Record]:
    start, end = window(request.query, request.app[WORLD].now_ms(), MONTH_MS)
    coin = request.query.get("coin", "")
    records = [_booked(e) for e in account.ledger if e.reason == reason]
    records += [_waiting(t) for t in account.transfers if t.reason == reason]
    return [r for r in records if start <= r.requested_ms <= end and (not coin or r.currency == coin)]


@signed
async def deposit_records(request: web.Request, account: SimAccount) -> web.Response:
    page, cursor = paginate(_records(request, account, "deposit"), _record_key, request.query, "asset-record")
    return json_result(request, {"rows": [deposit_row(e) for e in page], "nextPageCursor": cursor})


@signed
async def withdrawal_records(request: web.Request, account: SimAccount) -> web.Response:
    query = request.query
    if query.get("withdrawType", "0") not in ("0", "2"):
        return json_result(request, {"rows": [], "nextPageCursor": ""})
    entries = [
        e
        for e in _records(request, account, "withdrawal")
        if not query.get("withdrawID") or e.record_id == query["withdrawID"]
    ]
    page, cursor = paginate(entries, _record_key, query, "asset-record")
    return json_result(request, {"rows": [withdrawal_row(e) for e in page], "nextPageCursor": cursor})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v5/account/transaction-log", transaction_log)
    app.router.add_get("/v5/asset/deposit/query-record", deposit_records)
    app.router.add_get("/v5/asset/withdraw/query-record", withdrawal_records)
