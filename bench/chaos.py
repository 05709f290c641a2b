"""Chaos run: kill producers, sinks, Redis and PostgreSQL under a faulty simulator, then check the
books against the simulator's truth (``chaos_harness``). Exits 1 on any loss, duplicate, mismatch,
unexpected dead letter or leaked secret.

    uv run python bench/chaos.py --duration 120 --seed 1 [--seed 2 ...]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from chaos_harness import ChaosOptions, run_chaos


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of scenario under faults")
    parser.add_argument("--seed", type=int, action="append", help="scenario and kill seed (repeatable)")
    parser.add_argument("--rate", type=float, default=40.0, help="scenario steps per second")
    parser.add_argument("--settle-timeout", type=float, default=180.0, help="deadline to catch up, seconds")
    parser.add_argument("--partitions", type=int, default=1, help="ACCOUNT_STREAM_PARTITIONS of the run")
    parser.add_argument("--keep", action="store_true", help="keep the run's directory (logs, AOF, cluster)")
    args = parser.parse_args()
    # SIGTERM ends the run like Ctrl-C, so its finaliser kills every process it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    failed = 0
    for seed in args.seed or [1]:
        options = ChaosOptions(
            seed=seed,
            duration_s=args.duration,
            rate_per_s=args.rate,
            settle_timeout_s=args.settle_timeout,
            keep_dir=args.keep,
            partitions=args.partitions,
        )
        verdict = asyncio.run(run_chaos(options, lambda line: print(line, flush=True)))
        print(verdict.summary(), flush=True)
        failed += not verdict.passed
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
