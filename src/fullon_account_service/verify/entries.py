"""Ledger entries against the ground truth's ``ledger`` list of one account.

Each truth entry (``id``, ``currency``, signed ``amount``, ``reason``, ``symbol``, ``fee``,
``fee_currency``, ``raw_type``, ``ts_ms``) must be stored exactly once under (ledger id,
currency), with the same amount, reason and symbol, the same fee (an unknown fee counts as none:
venues leave a zero fee out), and a time within ``TIME_TOL_MS`` (some venues give seconds with
four decimals). ``raw_type`` is the venue's own word, which the producers may keep in another
case or spelling, so it is not compared; ``fee_currency`` only when a fee was charged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fullon_account_service.ledger.entries import LedgerRecord

TIME_TOL_MS = 1_000
_REL_TOL = 1e-9
_ABS_TOL = 1e-12

Report = Callable[[str], None]


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=_REL_TOL, abs_tol=_ABS_TOL)


def entry_key(entry: Mapping[str, Any]) -> tuple[str, str]:
    """A truth entry's (ledger id, currency): the key ``Books.ledger`` keeps its copies under."""
    return str(entry["id"]), str(entry["currency"])


def compare_ledger(
    report: Report,
    label: str,
    truth: Iterable[Mapping[str, Any]],
    have: Mapping[tuple[str, str], list[LedgerRecord]],
) -> int:
    """Report each difference with ``report``; how many truth entries were checked."""
    checked = 0
    known: set[tuple[str, str]] = set()
    for entry in truth:
        checked += 1
        key = entry_key(entry)
        known.add(key)
        copies = have.get(key, [])
        if not copies:
            what = f"{entry['reason']} {entry['amount']:g}"
            report(f"{label}: ledger entry {key[0]} {key[1]} ({what}) is missing")
            continue
        if len(copies) > 1:
            report(f"{label}: ledger entry {key[0]} {key[1]} is there {len(copies)} times")
        _fields(report, label, entry, copies[0])
    for ledger_id, currency in sorted(set(have) - known):
        got = have[(ledger_id, currency)][0]
        report(
            f"{label}: ledger entry {ledger_id} {currency} ({got.reason} {got.amount:g}) was never booked"
            " on the venue"
        )
    return checked


def differing_fields(entry: Mapping[str, Any], got: LedgerRecord) -> list[str]:
    """The names of the fields in which a stored entry differs from its truth entry (by the rules above)."""
    fee = float(entry.get("fee") or 0.0)
    return [
        name
        for name, ok in (
            ("amount", _close(got.amount, float(entry["amount"]))),
            ("reason", got.reason == entry["reason"]),
            ("symbol", got.symbol == entry.get("symbol")),
            ("fee", _close(got.fee or 0.0, fee)),
            ("fee currency", not fee or got.fee_in == (entry.get("fee_currency") or entry["currency"])),
            ("time", abs(got.time_ms - int(entry["ts_ms"])) <= TIME_TOL_MS),
        )
        if not ok
    ]


def _fields(report: Report, label: str, entry: Mapping[str, Any], got: LedgerRecord) -> None:
    wrong = differing_fields(entry, got)
    if wrong:
        report(
            f"{label}: ledger entry {entry['id']} {entry['currency']} differs in {', '.join(wrong)}:"
            f" stored {got.reason} {got.amount:g} {got.symbol}"
            f" fee {got.fee} {got.fee_currency} at {got.time_ms};"
            f" truth {entry['reason']} {float(entry['amount']):g} {entry.get('symbol')}"
            f" fee {entry.get('fee')} {entry.get('fee_currency')} at {entry['ts_ms']}"
        )
