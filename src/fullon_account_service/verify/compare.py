"""The comparison itself: one account's books, as the service has them, against the ground truth.

Books come from storage (``books``) or from bus events (``events``) in the same shape, ``Books``,
so both checks apply the same rules:

- fills: every simulator fill exactly once (by trade id), with its order, symbol, side, price,
  volume, fee and execution kind (a liquidation, bust or ADL fill says so; the other side of a
  liquidation does not); no fill the simulator never made;
- ledger entries (``ledger``): every entry of the truth exactly once (by ledger id and currency),
  with its amount, reason, symbol, fee and time; no entry the venue never booked. A truth
  without the ``ledger`` key (written before the simulator had a ledger) expects none;
- orders: every order with its final status (as the venue names it) and filled quantity; an
  unknown ``filled`` or fee is a difference, since the truth knows them;
- balances and positions: what the venue would show for the truth (see ``expect``); free and used
  only where the service knows them, because some channels carry totals only; a position's entry
  price left unknown is a difference;
- with ``check_pnl`` (stored books), each symbol's final position and the realised PnL of every
  flat-to-flat round trip, recomputed from the truth's fills (``pnl``), not by the sink's engine.

Numbers are equal within a relative 1e-9: venues render exact decimals, so anything beyond float
noise is a real difference.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fullon_account_service.ledger.entries import LedgerRecord
from fullon_account_service.ledger.fills import Fill
from fullon_account_service.ledger.orders import OrderRecord
from fullon_account_service.verify.entries import compare_ledger
from fullon_account_service.verify.expect import (
    BalanceView,
    PositionView,
    account_label,
    expected_balances,
    expected_positions,
    expected_status,
    fee_options,
)
from fullon_account_service.verify.pnl import TradeResult, compare_pnl

AccountKey = tuple[str, int]
"""A simulated account: (venue, index), as in the ground truth."""

REL_TOL = 1e-9
ABS_TOL = 1e-12
DEFAULT_LIMIT = 50


@dataclass(slots=True)
class Books:
    """One account as the service has it. ``fills`` keeps every copy of a trade id, ``ledger``
    every copy of a (ledger id, currency), to spot doubles."""

    fills: dict[str, list[Fill]] = field(default_factory=dict)
    ledger: dict[tuple[str, str], list[LedgerRecord]] = field(default_factory=dict)
    orders: dict[str, OrderRecord] = field(default_factory=dict)
    balances: dict[str, BalanceView] = field(default_factory=dict)
    positions: dict[str, PositionView] = field(default_factory=dict)
    results: dict[str, TradeResult] = field(default_factory=dict)
    """What the sink computed per stored trade id (stored books only)."""

    def add_fill(self, fill: Fill) -> None:
        self.fills.setdefault(fill.ex_trade_id, []).append(fill)

    def add_entry(self, entry: LedgerRecord) -> None:
        self.ledger.setdefault((entry.ex_ledger_id, entry.currency), []).append(entry)


@dataclass(slots=True)
class BooksComparison:
    differences: list[str] = field(default_factory=list)
    """The first ``limit`` differences, in a form an operator can read."""
    total_differences: int = 0
    accounts: int = 0
    fills: int = 0
    orders: int = 0
    ledger: int = 0
    limit: int = DEFAULT_LIMIT

    @property
    def equal(self) -> bool:
        return self.total_differences == 0

    def add(self, difference: str) -> None:
        self.total_differences += 1
        if len(self.differences) < self.limit:
            self.differences.append(difference)

    def summary(self) -> str:
        checked = f"{self.accounts} accounts, {self.orders} orders, {self.fills} fills"
        checked += f", {self.ledger} ledger entries"
        if self.equal:
            return f"equal ({checked})"
        return f"{self.total_differences} differences ({checked})"


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def _optional_close(stored: float | None, expected: float | None) -> bool:
    if stored is None or expected is None:
        return stored is expected
    return close(stored, expected)


def compare_books(
    truth: Mapping[str, Any],
    ex_ids: Mapping[AccountKey, int],
    books: Mapping[int, Books],
    *,
    limit: int = DEFAULT_LIMIT,
    check_pnl: bool = False,
) -> BooksComparison:
    """Accounts of the truth without an ex_id in ``ex_ids`` are not checked.

    ``check_pnl``: also check each trade's stored position and realised PnL (``Books.results``)."""
    result = BooksComparison(limit=limit)
    for account in truth["accounts"]:
        ex_id = ex_ids.get((account["venue"], account["index"]))
        if ex_id is None:
            continue
        result.accounts += 1
        label = f"{account_label(account)} ex_id {ex_id}"
        have = books.get(ex_id, Books())
        _fills(result, label, account["venue"], account["fills"], have.fills)
        _orders(result, label, account["venue"], account["orders"], have.orders)
        result.ledger += compare_ledger(result.add, label, account.get("ledger") or [], have.ledger)
        _balances(result, label, expected_balances(account), have.balances)
        _positions(result, label, expected_positions(account), have.positions)
        if check_pnl:
            compare_pnl(result.add, label, account, have.results, _stored_fee_form(account["venue"], have))
    return result


def _stored_fee_form(venue: str, have: Books) -> Callable[[Mapping[str, Any]], tuple[float, str | None]]:
    """The truth's fee of a fill in the form the service stored, when that form is one the venue
    may report (Kraken: a base fee as its quote value); otherwise the truth's own."""

    def fee_of(fill: Mapping[str, Any]) -> tuple[float, str | None]:
        options = fee_options(venue, fill)
        copies = have.fills.get(fill["id"], [])
        got = copies[0] if copies else None
        if got is not None and got.fee is not None:
            for fee, currency in options:
                if close(got.fee, fee) and got.fee_currency in (None, currency):
                    return fee, got.fee_currency
        return options[0]

    return fee_of


def _fills(
    result: BooksComparison,
    label: str,
    venue: str,
    truth: list[dict[str, Any]],
    have: Mapping[str, list[Fill]],
) -> None:
    for fill in truth:
        result.fills += 1
        copies = have.get(fill["id"], [])
        if not copies:
            result.add(f"{label}: fill {fill['id']} of order {fill['order_id']} is missing")
            continue
        if len(copies) > 1:
            result.add(f"{label}: fill {fill['id']} is there {len(copies)} times")
        _fill_fields(result, label, venue, fill, copies[0])
    known = {fill["id"] for fill in truth}
    for trade_id in sorted(set(have) - known):
        result.add(f"{label}: fill {trade_id} never happened on the venue")


def _fill_fields(result: BooksComparison, label: str, venue: str, fill: Mapping[str, Any], got: Fill) -> None:
    wrong = [
        name
        for name, ok in (
            ("order", got.ex_order_id == fill["order_id"]),
            ("symbol", got.symbol == fill["symbol"]),
            ("side", got.side == fill["side"]),
            ("price", close(got.price, fill["price"])),
            ("volume", close(got.volume, fill["amount"])),
            ("fee", _fee_ok(got, fee_options(venue, fill))),
            ("exec kind", got.exec_kind == fill.get("exec_kind")),
        )
        if not ok
    ]
    if wrong:
        result.add(
            f"{label}: fill {fill['id']} differs in {', '.join(wrong)}: stored {got.side} {got.volume:g}"
            f" {got.symbol} @ {got.price:g} fee {got.fee} {got.fee_currency} kind {got.exec_kind};"
            f" truth {fill['side']} {fill['amount']:g} {fill['symbol']} @ {fill['price']:g}"
            f" fee {fill['fee']} {fill['fee_currency']} kind {fill.get('exec_kind')}"
        )


def _fee_ok(got: Fill, options: list[tuple[float, str]]) -> bool:
    """An unknown fee is a difference (the truth knows it); an unknown currency is not held against it."""
    if got.fee is None:
        return False
    return any(close(got.fee, fee) and got.fee_currency in (None, currency) for fee, currency in options)


def _orders(
    result: BooksComparison,
    label: str,
    venue: str,
    truth: list[dict[str, Any]],
    have: Mapping[str, OrderRecord],
) -> None:
    for order in truth:
        result.orders += 1
        got = have.get(order["id"])
        if got is None:
            result.add(f"{label}: order {order['id']} ({order['status']}) is missing")
            continue
        status = expected_status(venue, order["status"])
        filled_ok = got.filled is not None and close(got.filled, order["filled"])
        if got.status != status or not filled_ok:
            result.add(
                f"{label}: order {order['id']} is {got.status} filled {got.filled};"
                f" truth {status} filled {order['filled']:g}"
            )
    known = {order["id"] for order in truth}
    for order_id in sorted(set(have) - known):
        result.add(f"{label}: order {order_id} never existed on the venue")


def _balances(
    result: BooksComparison,
    label: str,
    expected: Mapping[str, BalanceView],
    have: Mapping[str, BalanceView],
) -> None:
    for currency in sorted(set(expected) | set(have)):
        want, got = expected.get(currency), have.get(currency)
        if got is None:
            if want is not None and not close(want.total or 0.0, 0.0):
                result.add(f"{label}: balance {currency} is missing (truth total {want.total:g})")
            continue
        if want is None:
            if got.total is not None and not close(got.total, 0.0):
                result.add(f"{label}: balance {currency} {got.total:g} is not in the truth")
            continue
        wrong = [name for name in ("total", "free", "used") if not _balance_field_ok(name, got, want)]
        if wrong:
            result.add(
                f"{label}: balance {currency} differs in {', '.join(wrong)}: stored total {got.total}"
                f" free {got.free} used {got.used};"
                f" truth total {want.total} free {want.free} used {want.used}"
            )


def _balance_field_ok(name: str, got: BalanceView, want: BalanceView) -> bool:
    stored, expected = getattr(got, name), getattr(want, name)
    if stored is None:
        return name != "total"
    return _optional_close(stored, expected)


def _positions(
    result: BooksComparison,
    label: str,
    expected: Mapping[str, PositionView],
    have: Mapping[str, PositionView],
) -> None:
    for symbol in sorted(set(expected) | set(have)):
        want, got = expected.get(symbol), have.get(symbol)
        if got is None:
            result.add(f"{label}: position {symbol} is missing ({want})")
        elif want is None:
            result.add(f"{label}: position {symbol} ({got.side} {got.volume:g}) is not open on the venue")
        elif (
            got.side != want.side
            or not close(got.volume, want.volume)
            or not _optional_close(got.entry_price, want.entry_price)
        ):
            result.add(f"{label}: position {symbol} is {got}; truth {want}")
