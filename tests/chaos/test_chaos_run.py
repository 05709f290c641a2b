"""The bounded chaos run: producers, sinks, Redis and PostgreSQL killed under a faulty simulator,
then every fill, order, balance, position and PnL checked against the truth (``bench/chaos_harness``).

It starts its own Redis and PostgreSQL and ignores ``REDIS_URL``/``DATABASE_URL``, so it is the same
run on either backend pass; longer runs: ``uv run python bench/chaos.py --duration 120 --seed N``.
"""

from __future__ import annotations

import logging
import os
import shutil

import pytest

from chaos_harness import ChaosOptions, run_chaos
from chaos_servers import PG_BIN

SEED = int(os.environ.get("CHAOS_SEED", "1"))

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.skipif(
        shutil.which("redis-server") is None or not (PG_BIN / "initdb").exists(),
        reason="needs redis-server and PostgreSQL 15 binaries",
    ),
]


async def test_nothing_is_lost_duplicated_or_leaked_under_chaos() -> None:
    options = ChaosOptions(seed=SEED, duration_s=40.0, rate_per_s=40.0, settle_timeout_s=120.0)
    lines: list[str] = []
    verdict = await run_chaos(options, lines.append)
    report = "\n".join([*lines, verdict.summary()])
    logging.getLogger("chaos").warning("%s", report)  # the seed and the figures, shown with -rA
    assert verdict.passed, report
