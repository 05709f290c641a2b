"""The demo's verdict: what was processed, whether the stored books equal the ground truth, and
whether every balance change is explained by the stored fills, fees and ledger entries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fullon_account_service.demo.dashboard import kinds_text
from fullon_account_service.demo.wiring import DemoAccount
from fullon_account_service.verify.compare import BooksComparison
from fullon_account_service.verify.explained import AccountExplanation, describe

EQUAL_LINE = "books: EQUAL to the simulator's ground truth"
EXPLAINED_LINE = "balances: every change EXPLAINED by the stored fills, fees and ledger entries"
SHOWN_REMAINDERS = 10


@dataclass(frozen=True, slots=True)
class DemoResult:
    accounts: Sequence[DemoAccount]
    events_by_kind: Mapping[str, int]
    scenario_steps: int
    comparison: BooksComparison
    caught_up: bool
    settle_s: float
    database: str
    log_path: str
    settle_note: str = "deadline reached"
    problems: Sequence[str] = field(default_factory=tuple)
    """Components that failed while the demo ran (each also in the log)."""
    explained: Sequence[AccountExplanation] | None = None
    """Balance explained per account (``None``: not checked, as before the sinks stored anything)."""

    @property
    def explained_ok(self) -> bool:
        """Some window was judged and none of the judged leaves a remainder (``None``: not asked)."""
        if self.explained is None:
            return True
        judged = sum(len(a.windows) for a in self.explained)
        return judged > 0 and not any(a.failing for a in self.explained)

    @property
    def ok(self) -> bool:
        return self.comparison.equal and not self.problems and self.explained_ok


def _listed(lines: list[str], described: list[str]) -> None:
    lines += [f"  - {text}" for text in described[:SHOWN_REMAINDERS]]
    if len(described) > SHOWN_REMAINDERS:
        lines.append(f"  ... and {len(described) - SHOWN_REMAINDERS} more")


def explained_lines(accounts: Sequence[AccountExplanation]) -> list[str]:
    judged = sum(len(a.windows) for a in accounts)
    waiting = sum(a.waiting for a in accounts)
    failing = [describe(a.ex_id, w) for a in accounts for w in a.failing]
    counts = f"{judged} windows over {len(accounts)} accounts, {waiting} waiting for their fills"
    unjudged = [describe(a.ex_id, w) for a in accounts if not a.ledger_collected for w in a.unexplained]
    lines: list[str] = []
    if failing:
        lines.append(f"balances: NOT explained: {len(failing)} of {judged} windows leave a remainder")
        _listed(lines, failing)
    elif judged == 0:
        lines.append(f"balances: NOT explained: no window could be judged ({counts})")
    elif unjudged:
        lines.append(f"{EXPLAINED_LINE} where a ledger is collected ({counts})")
    else:
        lines.append(f"{EXPLAINED_LINE} ({counts})")
    if unjudged:
        lines.append(f"  not judged, for want of a ledger: {len(unjudged)} windows unexplained")
        _listed(lines, unjudged)
    return lines


def summary_lines(result: DemoResult) -> list[str]:
    venues = Counter(a.venue for a in result.accounts)
    per_venue = ", ".join(f"{venue} {count}" for venue, count in venues.items())
    total = sum(result.events_by_kind.values())
    lines = [
        "demo summary",
        f"  accounts: {len(result.accounts)} ({per_venue})",
        f"  scenario steps: {result.scenario_steps}",
        f"  events processed: {total} ({kinds_text(result.events_by_kind)})",
        f"  settled in {result.settle_s:.1f}s" + ("" if result.caught_up else f" ({result.settle_note})"),
    ]
    comparison = result.comparison
    if comparison.equal:
        lines.append(f"{EQUAL_LINE} {comparison.summary().removeprefix('equal ')}")
    else:
        lines.append(f"books: NOT equal to the simulator's ground truth: {comparison.summary()}")
        lines += [f"  - {difference}" for difference in comparison.differences]
        hidden = comparison.total_differences - len(comparison.differences)
        if hidden > 0:
            lines.append(f"  ... and {hidden} more")
    if result.explained is not None:
        lines += explained_lines(result.explained)
    lines += [f"problem: {problem}" for problem in result.problems]
    lines += [f"database: {result.database}", f"logs: {result.log_path}"]
    return lines
