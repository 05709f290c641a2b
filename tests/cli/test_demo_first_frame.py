"""The demo's first frame (a "starting" state) is out before its slow imports begin.

How soon that is (target 2 s) is measured by ``bench/cli_startup.py`` (``demo (first frame)``);
here the demo runs in a fresh interpreter whose standard output, at the first line written,
reports which heavy packages were imported by then and ends the process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("ccxt", "sqlalchemy", "alembic", "aiohttp", "fakeredis", "matplotlib", "structlog")
FIRST_LINE = """
import json, os, sys
from fullon_account_service.cli.app import main

watched = json.loads(os.environ["DEMO_IMPORTS_WATCH"])


class FirstLine:
    def __init__(self, out):
        self._out = out

    def write(self, text):
        if not text.strip():
            return len(text)
        found = [m for m in watched if m in sys.modules]
        print(json.dumps({"line": text.strip(), "heavy": found}), file=sys.stderr, flush=True)
        os._exit(0)

    def __getattr__(self, name):
        return getattr(self._out, name)


sys.stdout = FirstLine(sys.stdout)
sys.argv = ["fullon-account", "demo", "--duration", "5"]
main()
"""


def test_first_frame_says_starting_before_any_heavy_import(tmp_path: Path) -> None:
    env = {**os.environ, "ACCOUNT_DATA_DIR": str(tmp_path), "DEMO_IMPORTS_WATCH": json.dumps(HEAVY)}
    proc = subprocess.run(
        [sys.executable, "-c", FIRST_LINE], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report["line"].startswith("[starting the simulator"), report
    assert "starting" in report["line"]
    assert report["heavy"] == [], f"imported before the first frame: {report['heavy']}"
