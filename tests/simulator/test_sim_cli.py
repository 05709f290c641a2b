"""``fullon-account simulate`` as a user runs it: prints what a producer needs, writes the truth
and the credential-free overrides file, and stops by itself after ``--duration``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-c", "from fullon_account_service.cli.app import main; main()"]


def test_simulate_prints_configs_and_writes_truth_and_overrides(tmp_path: Path) -> None:
    truth, overrides = tmp_path / "truth.json", tmp_path / "overrides.json"
    done = subprocess.run(
        [
            *CLI,
            "simulate",
            "--venues",
            "kraken,hyperliquid",
            "--accounts",
            "2",
            "--seed",
            "7",
            "--rate",
            "50",
            "--funding-every-s",
            "0.5",
            "--duration",
            "2",
            "--truth",
            str(truth),
            "--overrides",
            str(overrides),
            "--faults",
            '{"duplicate_probability": 0.1}',
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "[kraken #0] ccxt id: kraken" in done.stdout
    assert "[hyperliquid #1] ccxt id: hyperliquid" in done.stdout
    assert "http://127.0.0.1:" in done.stdout
    assert "exempted from garbage collection" in done.stdout + done.stderr  # gc_freeze, once served

    written = json.loads(truth.read_text())
    assert {(a["venue"], a["index"]) for a in written["accounts"]} == {
        ("kraken", 0),
        ("kraken", 1),
        ("hyperliquid", 0),
        ("hyperliquid", 1),
    }
    assert all(isinstance(a["ledger"], list) for a in written["accounts"])

    per_venue = json.loads(overrides.read_text())
    assert set(per_venue) == {"kraken", "hyperliquid"}
    for config in per_venue.values():
        assert "127.0.0.1" in json.dumps(config["urls"])
        assert not {"apiKey", "secret", "privateKey", "walletAddress"} & config.keys()


def test_simulate_refuses_an_unknown_fault() -> None:
    done = subprocess.run(
        [
            *CLI,
            "simulate",
            "--venues",
            "kraken",
            "--accounts",
            "1",
            "--duration",
            "1",
            "--faults",
            '{"nope": 1}',
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2
    assert "unknown fault 'nope'" in done.stderr


def test_simulate_refuses_a_funding_interval_of_zero() -> None:
    done = subprocess.run(
        [*CLI, "simulate", "--venues", "kraken", "--duration", "1", "--funding-every-s", "0"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2
    assert "funding_every_s must be positive" in done.stderr
