"""The chaos verdict can fail: perfect books pass, and each kind of damage is named and fails it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import msgspec
import pytest

from chaos_verdict import ChaosVerdict, canary_hits, fill_counts, judge_letters, ledger_counts, log_files
from fullon_account_service.ledger.entries import LedgerRecord
from fullon_account_service.ledger.fills import Fill
from fullon_account_service.ledger.orders import OrderRecord
from fullon_account_service.simulator.ledger import Ledger
from fullon_account_service.simulator.scenario import ScenarioConfig, ScenarioEngine, build_world
from fullon_account_service.simulator.truth import ground_truth
from fullon_account_service.verify import compare_books
from fullon_account_service.verify.compare import Books
from fullon_account_service.verify.entries import entry_key
from fullon_account_service.verify.expect import (
    expected_balances,
    expected_positions,
    expected_status,
    fee_options,
)

AccountIds = dict[tuple[str, int], int]
CANARY = "s3cr3t-canary-value"


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    config = ScenarioConfig(accounts_per_venue=1, seed=5)
    clock = iter(range(1_700_000_000_000, 1_700_010_000_000, 7))
    world = build_world(config, now_ms=lambda: next(clock))
    ScenarioEngine(world, Ledger(world), config).run_steps(300)
    return ground_truth(world)


def perfect(truth: dict[str, Any]) -> tuple[AccountIds, dict[int, Books]]:
    ids: AccountIds = {}
    books: dict[int, Books] = {}
    for ex_id, account in enumerate(truth["accounts"], 1):
        venue = account["venue"]
        ids[(venue, account["index"])] = ex_id
        have = books[ex_id] = Books()
        for fill in account["fills"]:
            fee, currency = fee_options(venue, fill)[0]
            price, amount = fill["price"], fill["amount"]
            have.add_fill(
                Fill(
                    ex_id=ex_id, uid=1, exchange=venue, ex_trade_id=fill["id"], ex_order_id=fill["order_id"],
                    symbol=fill["symbol"], side=fill["side"], volume=amount, price=price, cost=price * amount,
                    time_ms=fill["ts_ms"], fee=fee, fee_currency=currency, exec_kind=fill["exec_kind"],
                )
            )  # fmt: skip
        for entry in account.get("ledger", ()):
            have.add_entry(
                LedgerRecord(
                    ex_id=ex_id, uid=1, exchange=venue, ex_ledger_id=entry["id"], currency=entry["currency"],
                    amount=entry["amount"], reason=entry["reason"], time_ms=entry["ts_ms"],
                    symbol=entry.get("symbol"), fee=entry.get("fee"), fee_currency=entry.get("fee_currency"),
                )
            )  # fmt: skip
        for order in account["orders"]:
            have.orders[order["id"]] = OrderRecord(
                ex_id=ex_id, uid=1, exchange=venue, ex_order_id=order["id"], symbol=order["symbol"],
                side=order["side"], order_type=order["type"], status=expected_status(venue, order["status"]),
                filled=order["filled"],
            )  # fmt: skip
        have.balances = dict(expected_balances(account))
        have.positions = dict(expected_positions(account))
    return ids, books


def verdict_of(truth: dict[str, Any], ids: AccountIds, books: dict[int, Books]) -> ChaosVerdict:
    verdict = ChaosVerdict(seed=5, duration_s=1.0, settled=True)
    verdict.comparison = compare_books(truth, ids, books)
    verdict.fills = fill_counts(truth, ids, books)
    verdict.ledger = ledger_counts(truth, ids, books)
    verdict.letters = judge_letters(["bad websocket frame: kraken ex_id=1 ..."], {"malformed_frame": 1})
    return verdict


def test_perfect_books_pass(truth: dict[str, Any]) -> None:
    ids, books = perfect(truth)
    verdict = verdict_of(truth, ids, books)
    assert verdict.fills.truth > 10
    assert verdict.ledger.truth > 3 and {"deposit", "withdrawal"} <= set(verdict.ledger.reasons)
    assert verdict.passed, verdict.summary()
    assert "PASS" in verdict.summary()


def _first_with_fills(truth: dict[str, Any], ids: AccountIds) -> tuple[int, dict[str, Any]]:
    account = next(a for a in truth["accounts"] if a["fills"])
    return ids[(account["venue"], account["index"])], account


def test_a_missing_fill_fails(truth: dict[str, Any]) -> None:
    ids, books = perfect(truth)
    ex_id, account = _first_with_fills(truth, ids)
    del books[ex_id].fills[account["fills"][0]["id"]]
    verdict = verdict_of(truth, ids, books)
    assert (verdict.fills.lost, verdict.fills.duplicated, verdict.mismatched) == (1, 0, 0)
    assert not verdict.passed and "1 lost" in verdict.summary()


def test_a_duplicated_fill_fails(truth: dict[str, Any]) -> None:
    ids, books = perfect(truth)
    ex_id, account = _first_with_fills(truth, ids)
    copies = books[ex_id].fills[account["fills"][0]["id"]]
    copies.append(copies[0])
    verdict = verdict_of(truth, ids, books)
    assert (verdict.fills.lost, verdict.fills.duplicated) == (0, 1)
    assert not verdict.passed and "1 duplicated" in verdict.summary()


def _entries(truth: dict[str, Any], ids: AccountIds, n: int) -> list[tuple[int, dict[str, Any]]]:
    """The first ``n`` ledger entries of the truth, each with its account's ex_id."""
    found = [
        (ids[(account["venue"], account["index"])], entry)
        for account in truth["accounts"]
        for entry in account.get("ledger") or []
    ]
    assert len(found) >= n
    return found[:n]


def test_a_broken_ledger_fails(truth: dict[str, Any]) -> None:
    """One entry missing, one stored twice, one with its amount changed: each counted and named."""
    ids, books = perfect(truth)
    (gone_ex, gone), (twice_ex, twice), (changed_ex, changed) = _entries(truth, ids, 3)
    del books[gone_ex].ledger[entry_key(gone)]
    copies = books[twice_ex].ledger[entry_key(twice)]
    copies.append(copies[0])
    stored = books[changed_ex].ledger[entry_key(changed)]
    stored[0] = msgspec.structs.replace(stored[0], amount=stored[0].amount + 1.0)
    verdict = verdict_of(truth, ids, books)
    g = verdict.ledger
    assert (g.lost, g.duplicated, g.mismatched, g.unexpected) == (1, 1, 1, 0)
    assert (verdict.fills.differences, verdict.mismatched) == (0, 0)
    assert not verdict.passed
    summary = verdict.summary()
    assert "ledger entries: 1 lost, 1 duplicated, 1 mismatched, 0 never booked" in summary
    assert f"ledger entry {gone['id']} {gone['currency']}" in summary and "differs in amount" in summary


def test_a_ledger_entry_never_booked_fails(truth: dict[str, Any]) -> None:
    ids, books = perfect(truth)
    [(ex_id, entry)] = _entries(truth, ids, 1)
    [copy] = books[ex_id].ledger[entry_key(entry)]
    books[ex_id].add_entry(msgspec.structs.replace(copy, ex_ledger_id="made-up"))
    verdict = verdict_of(truth, ids, books)
    assert (verdict.ledger.unexpected, verdict.ledger.lost, verdict.mismatched) == (1, 0, 0)
    assert not verdict.passed and "1 never booked" in verdict.summary()


def test_a_wrong_balance_fails(truth: dict[str, Any]) -> None:
    ids, books = perfect(truth)
    have = books[1].balances
    currency = next(iter(have))
    have[currency] = dataclasses.replace(have[currency], total=(have[currency].total or 0.0) + 1.0)
    verdict = verdict_of(truth, ids, books)
    assert verdict.mismatched == 1 and verdict.fills.differences == 0
    assert not verdict.passed and "balance" in verdict.summary()


def test_dead_letters_must_match_the_frames_injected() -> None:
    assert judge_letters(["bad websocket frame: x"], {"malformed_frame": 1, "truncated_frame": 1}).frames == 1
    verdict = ChaosVerdict(seed=5, duration_s=1.0, settled=True)
    verdict.letters = judge_letters(["bad websocket frame: x"], {"malformed_frame": 1, "truncated_frame": 1})
    assert not verdict.passed and "1 bad frames, 2 injected" in verdict.summary()
    verdict.letters = judge_letters(
        ["bad websocket frame: x", "trade not stored: boom", ""], {"truncated_frame": 1}
    )
    failures = " ".join(verdict.failures())
    assert "1 unexpected" in failures and "1 without a reason" in failures


def test_a_canary_in_a_log_fails(tmp_path: Path) -> None:
    (tmp_path / "clean.log").write_text("nothing to see\n")
    (tmp_path / "producer-0.log").write_text(f"auth failed for key {CANARY}\n")
    hits = canary_hits([CANARY], log_files(tmp_path) | {"redis key a": b"clean"})
    assert hits == ["producer-0.log: secret #0"]
    verdict = ChaosVerdict(seed=5, duration_s=1.0, settled=True, canaries=hits)
    assert not verdict.passed and "canary hits: 1" in verdict.summary()


def test_an_unsettled_run_fails() -> None:
    verdict = ChaosVerdict(seed=5, duration_s=1.0, settled=False, settle_s=90.0)
    assert not verdict.passed and "did not settle" in verdict.summary()
