"""``health``'s text output: a problem is printed as written, on one line, whatever it contains."""

from __future__ import annotations

import io

from rich.console import Console

from fullon_account_service.cli.health import _render
from fullon_account_service.health import HealthReport


def test_problems_are_one_line_each_and_never_read_as_markup() -> None:
    report = HealthReport()
    problem = "account 7 USD: 12.5 unexplained between [t1] and [t2]; " + "x" * 200
    report.fail(problem)
    report.warnings.append("balance explained not checked: [red]no database[/red]")
    out = io.StringIO()
    _render(report, Console(file=out, width=40, color_system=None))
    lines = out.getvalue().splitlines()
    assert f"problem: {problem}" in lines
    assert "warning: balance explained not checked: [red]no database[/red]" in lines
    assert lines[0] == "UNHEALTHY"
