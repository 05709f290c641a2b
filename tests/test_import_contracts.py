"""The import contracts of ``pyproject.toml`` (no cycle, layers, a pure ledger) hold, and the
checker that says so does fail on a cycle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = [str(Path(sys.executable).with_name("lint-imports")), "--no-cache", "--no-logo"]


def lint(*args: str, cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = None if pythonpath is None else {"PYTHONPATH": str(pythonpath), "PATH": ""}
    return subprocess.run([*LINT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_project_keeps_its_import_contracts() -> None:
    result = lint(cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_cycle_breaks_the_contract(tmp_path: Path) -> None:
    package = tmp_path / "cyclic"
    (package / "a").mkdir(parents=True)
    (package / "b").mkdir()
    (package / "__init__.py").write_text("")
    (package / "a" / "__init__.py").write_text("from cyclic.b import B\nA = 1\n")
    (package / "b" / "__init__.py").write_text("def f():\n    from cyclic.a import A\n    return A\nB = 2\n")
    config = tmp_path / ".importlinter"
    config.write_text(
        "[importlinter]\nroot_package = cyclic\n\n"
        "[importlinter:contract:acyclic]\nname = acyclic\ntype = acyclic_siblings\nancestors = cyclic\n"
    )
    result = lint(str(config), cwd=tmp_path, pythonpath=tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
