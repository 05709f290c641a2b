"""Every background task in ``src`` is owned: only ``supervisor.py`` may start one."""

from __future__ import annotations

import ast
from pathlib import Path

import fullon_account_service

SRC = Path(fullon_account_service.__file__).parent
ALLOWED = {SRC / "supervisor.py"}
STARTERS = {"create_task", "ensure_future"}


def bare_task_starts(source: str) -> list[int]:
    """Lines calling ``create_task``/``ensure_future`` (``asyncio.``, a loop's or imported bare)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in STARTERS:
            lines.append(node.lineno)
    return lines


def test_no_bare_create_task_outside_the_supervisor() -> None:
    found = {
        f"{path.relative_to(SRC)}:{line}"
        for path in SRC.rglob("*.py")
        if path not in ALLOWED
        for line in bare_task_starts(path.read_text())
    }
    assert not found, f"start tasks through supervisor.TaskSupervisor, not bare: {sorted(found)}"


def test_the_check_finds_every_spelling() -> None:
    source = (
        "import asyncio\nfrom asyncio import create_task\n"
        "asyncio.create_task(f())\ncreate_task(f())\nloop.create_task(f())\nasyncio.ensure_future(f())\n"
        "tasks.spawn(f(), name='x')\n"
    )
    assert bare_task_starts(source) == [3, 4, 5, 6]
