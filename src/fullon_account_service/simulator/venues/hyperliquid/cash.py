"""Hyperliquid's ledger: ``userFunding`` and ``userNonFundingLedgerUpdates`` rows, for ``/info``
and for the ``userFundings`` / ``userNonFundingLedgerUpdates`` subscriptions.

Every amount is USDC in the perp account. REST answers need ``startTime`` (ms; ``endTime``
optional) and give at most 500 rows from it, oldest first: the caller pages on from the last
``time``, as on the venue. Funding rows carry the all-zero ``hash`` (the venue's), so a funding
payment is named by its coin and time (``ids.hyperliquid_funding_id``); the other updates carry a
transaction hash. ``withdraw`` shows the amount sent and its ``fee`` on top;
``subAccountTransfer`` names the two addresses (``user`` sends, ``destination`` receives).
"""

from __future__ import annotations

import hashlib
from typing import Any

from fullon_account_service.simulator.model import SimAccount, SimLedgerEntry
from fullon_account_service.simulator.venues.hyperliquid.render import num

Row = dict[str, Any]
LEDGER_PAGE = 500
ZERO_HASH = "0x" + "0" * 64


def _coin(entry: SimLedgerEntry) -> str:
    return (entry.symbol or "").split("/")[0]


def _signed_size(entry: SimLedgerEntry) -> float:
    terms = entry.funding
    if terms is None:
        return 0.0
    return terms.size if terms.side == "buy" else -terms.size


def ws_funding(entry: SimLedgerEntry) -> Row:
    """A payment as the ``userFundings`` channel lists it (and as ``userFunding``'s ``delta``)."""
    rate = entry.funding.rate if entry.funding else 0.0
    return {
        "time": entry.ts_ms,
        "coin": _coin(entry),
        "usdc": num(entry.amount),
        "szi": num(_signed_size(entry)),
        "fundingRate": num(rate),
        "nSamples": None,
    }


def funding_row(entry: SimLedgerEntry) -> Row:
    delta = {"type": "funding", **ws_funding(entry)}
    del delta["time"]
    return {"time": entry.ts_ms, "hash": ZERO_HASH, "delta": delta}


def _counterparty(entry: SimLedgerEntry) -> str:
    return "0x" + hashlib.sha256(entry.entry_id.encode()).hexdigest()[:40]


def _liquidation(entry: SimLedgerEntry) -> Row:
    """The venue closed positions: their coins and signed sizes, no amount (the fills moved it)."""
    terms = entry.liquidation
    assert terms is not None
    closed = -terms.size if terms.side == "buy" else terms.size
    return {
        "type": "liquidation",
        "liquidatedNtlPos": num(terms.size * terms.price),
        "accountValue": num(entry.balance_after),
        "leverageType": "Cross",
        "liquidatedPositions": [{"coin": _coin(entry), "szi": num(closed)}],
    }


def ledger_row(entry: SimLedgerEntry, account: SimAccount) -> Row:
    """A non-funding update: deposit, withdraw, subAccountTransfer or liquidation."""
    if entry.liquidation is not None:
        return {"time": entry.ts_ms, "hash": entry.entry_id, "delta": _liquidation(entry)}
    delta: Row = {"type": entry.raw_type, "usdc": num(abs(entry.amount))}
    if entry.reason == "withdrawal":
        delta.update(nonce=entry.ts_ms, fee=num(entry.fee))
    elif entry.reason in ("transfer_in", "transfer_out"):
        own, other = (account.wallet_address or "").lower(), _counterparty(entry)
        sender, receiver = (other, own) if entry.reason == "transfer_in" else (own, other)
        delta.update(user=sender, destination=receiver)
    return {"time": entry.ts_ms, "hash": entry.entry_id, "delta": delta}


def fundings(account: SimAccount | None) -> list[SimLedgerEntry]:
    return [e for e in account.ledger if e.reason == "funding"] if account else []


def non_funding(account: SimAccount | None) -> list[SimLedgerEntry]:
    return [e for e in account.ledger if e.reason != "funding"] if account else []


def in_window(entries: list[SimLedgerEntry], start: int, end: int) -> list[SimLedgerEntry]:
    return [e for e in entries if start <= e.ts_ms <= end][:LEDGER_PAGE]
