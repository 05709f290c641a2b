"""The chaos run's verdict: what was stored against the simulator's truth, dead letters against the
faults injected, and the canary secrets against everything the run left behind.

The books are compared by ``verify.compare_books`` (fills and ledger entries exactly once with
their fields, orders' final state, AccountCache balances and positions, realised PnL against
``verify.pnl``'s own FIFO walk); ``fill_counts`` splits the fill differences into lost, duplicated
and unexpected, ``ledger_counts`` the simulator's ``ledger`` entries against the ``ledger`` table
into lost, duplicated, mismatched (a field differs) and never booked, and the rest of the
differences are counted as mismatched. Every input is plain data, so a test can feed deliberately
broken books, letters or logs and see the verdict fail.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fullon_account_service.verify import AccountKey, BooksComparison
from fullon_account_service.verify.compare import Books
from fullon_account_service.verify.entries import differing_fields, entry_key

FRAME_REASON = "bad websocket frame"
DAMAGE_KINDS = ("malformed_frame", "truncated_frame")


@dataclass(frozen=True, slots=True)
class FillCounts:
    truth: int = 0
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0

    @property
    def differences(self) -> int:
        """How many of ``compare_books``'s differences these are (one per fill named)."""
        return self.lost + self.duplicated + self.unexpected


def _accounts(
    truth: Mapping[str, Any], ex_ids: Mapping[AccountKey, int], books: Mapping[int, Books]
) -> Iterator[tuple[Mapping[str, Any], Books]]:
    """Each truth account with an ex_id, beside the books stored for it."""
    for account in truth["accounts"]:
        ex_id = ex_ids.get((account["venue"], account["index"]))
        if ex_id is not None:
            yield account, books.get(ex_id, Books())


def fill_counts(
    truth: Mapping[str, Any], ex_ids: Mapping[AccountKey, int], books: Mapping[int, Books]
) -> FillCounts:
    total = lost = duplicated = unexpected = 0
    for account, stored in _accounts(truth, ex_ids, books):
        have = stored.fills
        known = {fill["id"] for fill in account["fills"]}
        total += len(known)
        lost += sum(1 for trade_id in known if not have.get(trade_id))
        duplicated += sum(1 for trade_id in known if len(have.get(trade_id, [])) > 1)
        unexpected += len(set(have) - known)
    return FillCounts(total, lost, duplicated, unexpected)


@dataclass(frozen=True, slots=True)
class LedgerCounts:
    truth: int = 0
    lost: int = 0
    duplicated: int = 0
    mismatched: int = 0
    """Entries stored (first copy) with a field unlike the truth's: amount, reason, fee, time..."""
    unexpected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    """The truth's entries by reason: which kinds of cash movement the run exercised."""

    @property
    def differences(self) -> int:
        """How many of ``compare_books``'s differences these are (as ``verify.entries`` reports them)."""
        return self.lost + self.duplicated + self.mismatched + self.unexpected


def ledger_counts(
    truth: Mapping[str, Any], ex_ids: Mapping[AccountKey, int], books: Mapping[int, Books]
) -> LedgerCounts:
    total = lost = duplicated = mismatched = unexpected = 0
    reasons: Counter[str] = Counter()
    for account, stored in _accounts(truth, ex_ids, books):
        have = stored.ledger
        entries = account.get("ledger") or []
        known = {entry_key(entry) for entry in entries}
        for entry in entries:
            total += 1
            reasons[str(entry["reason"])] += 1
            copies = have.get(entry_key(entry), [])
            lost += not copies
            duplicated += len(copies) > 1
            mismatched += bool(copies) and bool(differing_fields(entry, copies[0]))
        unexpected += len(set(have) - known)
    return LedgerCounts(total, lost, duplicated, mismatched, unexpected, reasons)


@dataclass(frozen=True, slots=True)
class Letters:
    """The dead-letter stream as the run found it, against the damaged frames the simulator sent."""

    injected: int
    frames: int
    others: tuple[str, ...] = ()
    """Reasons of letters that are not a bad frame: none are expected."""
    without_reason: int = 0


def judge_letters(reasons: Iterable[str], injected_by_kind: Mapping[str, int]) -> Letters:
    reasons = list(reasons)
    return Letters(
        injected=sum(injected_by_kind.get(kind, 0) for kind in DAMAGE_KINDS),
        frames=sum(1 for r in reasons if FRAME_REASON in r),
        others=tuple(r for r in reasons if r.strip() and FRAME_REASON not in r),
        without_reason=sum(1 for r in reasons if not r.strip()),
    )


def canary_hits(canaries: Iterable[str], places: Mapping[str, bytes]) -> list[str]:
    """``places`` maps a name (a log file, ``redis key ...``, ``table dump``) to its bytes."""
    needles = [c.encode() for c in canaries if c]
    return [
        f"{where}: secret #{i}" for where, data in places.items() for i, n in enumerate(needles) if n in data
    ]


def log_files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*.log")) if p.is_file()
    }


@dataclass(slots=True)
class ChaosVerdict:
    seed: int
    duration_s: float
    kills: Counter[str] = field(default_factory=Counter)
    exits: Counter[str] = field(default_factory=Counter)
    """Processes that ended without being killed (restarted like the killed ones), by kind."""
    events: int = 0
    steps: int = 0
    fills: FillCounts = field(default_factory=FillCounts)
    ledger: LedgerCounts = field(default_factory=LedgerCounts)
    comparison: BooksComparison = field(default_factory=BooksComparison)
    letters: Letters = field(default_factory=lambda: Letters(0, 0))
    letters_before_outages: Letters | None = None
    """The same check taken when the damaging faults were switched off, before any producer kill."""
    canaries: list[str] = field(default_factory=list)
    settled: bool = False
    settle_s: float = 0.0
    problems: list[str] = field(default_factory=list)
    """What kept the run from judging (a server that did not come back...)."""

    @property
    def mismatched(self) -> int:
        """Differences other than the fills and ledger entries counted apart."""
        counted = self.fills.differences + self.ledger.differences
        return max(int(self.comparison.total_differences) - counted, 0)

    def failures(self) -> list[str]:
        out = list(self.problems)
        f = self.fills
        if f.lost or f.duplicated or f.unexpected:
            out.append(f"fills: {f.lost} lost, {f.duplicated} duplicated, {f.unexpected} never made")
        g = self.ledger
        if g.lost or g.duplicated or g.mismatched or g.unexpected:
            out.append(
                f"ledger entries: {g.lost} lost, {g.duplicated} duplicated, {g.mismatched} mismatched,"
                f" {g.unexpected} never booked"
            )
        if self.mismatched:
            out.append(f"{self.mismatched} mismatches in orders, balances, positions, fill fields or PnL")
        for when, letters in (
            ("at the end", self.letters),
            ("before the outages", self.letters_before_outages),
        ):
            if letters is None:
                continue
            if letters.frames != letters.injected:
                out.append(f"dead letters {when}: {letters.frames} bad frames, {letters.injected} injected")
            if letters.others:
                out.append(
                    f"dead letters {when}: {len(letters.others)} unexpected, e.g. {letters.others[0]!r}"
                )
            if letters.without_reason:
                out.append(f"dead letters {when}: {letters.without_reason} without a reason")
        if self.canaries:
            out.append(f"canary secrets found: {', '.join(self.canaries[:10])}")
        if not self.settled:
            out.append(f"did not settle within the deadline ({self.settle_s:.0f}s)")
        return out

    @property
    def passed(self) -> bool:
        return not self.failures()

    def summary(self) -> str:
        kills = ", ".join(f"{k} {n}" for k, n in sorted(self.kills.items())) or "none"
        exits = ", ".join(f"{k} {n}" for k, n in sorted(self.exits.items())) or "none"
        f, g = self.fills, self.ledger
        lines = [
            f"chaos seed {self.seed}, {self.duration_s:g}s: {'PASS' if self.passed else 'FAIL'}",
            f"  kills: {kills}; exits without a kill: {exits}",
            f"  scenario steps {self.steps}, events published {self.events}, settled in {self.settle_s:.1f}s",
            f"  fills {f.truth}: lost {f.lost}, duplicated {f.duplicated}, never made {f.unexpected};"
            f" orders {self.comparison.orders}; mismatched {self.mismatched}",
            f"  ledger entries {g.truth}: lost {g.lost}, duplicated {g.duplicated},"
            f" mismatched {g.mismatched}, never booked {g.unexpected} ({_reasons(g.reasons)})",
            f"  dead letters: {self.letters.frames} bad frames of {self.letters.injected} injected,"
            f" {len(self.letters.others)} other, {self.letters.without_reason} without reason",
            f"  canary hits: {len(self.canaries)}",
        ]
        lines += [f"  FAIL: {reason}" for reason in self.failures()]
        lines += [f"  difference: {d}" for d in self.comparison.differences[:20]]
        return "\n".join(lines)


def _reasons(reasons: Counter[str]) -> str:
    return ", ".join(f"{reason} {n}" for reason, n in sorted(reasons.items())) or "none"
