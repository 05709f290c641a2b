"""The demo's verdict: what was processed and whether the stored books equal the ground truth."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fullon_account_service.demo.dashboard import kinds_text
from fullon_account_service.demo.wiring import DemoAccount
from fullon_account_service.verify.compare import BooksComparison

EQUAL_LINE = "books: EQUAL to the simulator's ground truth"


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

    @property
    def ok(self) -> bool:
        return self.comparison.equal and not self.problems


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
    lines += [f"problem: {problem}" for problem in result.problems]
    lines += [f"database: {result.database}", f"logs: {result.log_path}"]
    return lines
