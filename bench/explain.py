"""What explaining an account's balances costs, against booking the same fills' FIFO PnL.

One seeded simulator history per venue (``--steps`` scenario steps, one account), the fills and
ledger entries as the database gives them back, and an anchor of every currency after every step
(more anchors than a producer publishes: one per balance event, so about one per fill).
Times, best of ``--rounds`` interleaved rounds: the FIFO engine over the fills (what the orm sink
does for them, the baseline) and the whole explanation (cash flows + windows). Prints fills per
second of each and the ratio explain / FIFO.

    uv run python bench/explain.py --steps 20000
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "explain"))

from explain_history import sim_entries, sim_fills

from fullon_account_service.ledger.cashflow import entry_flows, fill_flows
from fullon_account_service.ledger.entries import LedgerRecord
from fullon_account_service.ledger.explain import Anchor, explain
from fullon_account_service.ledger.fifo import FifoBook
from fullon_account_service.ledger.fills import Fill
from fullon_account_service.simulator.ledger import Ledger
from fullon_account_service.simulator.scenario import ScenarioConfig, ScenarioEngine, build_world


def _history(venue: str, steps: int) -> tuple[list[Fill], list[LedgerRecord], dict[str, list[Anchor]]]:
    now = [1_700_000_000_000]
    config = ScenarioConfig(venues=(venue,), accounts_per_venue=1, seed=3, funding_every_s=30.0)
    world = build_world(config, now_ms=lambda: now[0])
    engine = ScenarioEngine(world, Ledger(world), config)
    [account] = world.accounts
    anchors: dict[str, list[Anchor]] = {}
    for _ in range(steps):
        engine.step()
        for currency, balance in account.held().items():
            anchors.setdefault(currency, []).append(Anchor(now[0] + 500, balance.total))
        now[0] += 1_000
    return sim_fills(account), sim_entries(account), anchors


def _best(run: Callable[[], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    columns = "venue | fills | entries | windows | FIFO fills/s | explain fills/s | explain/FIFO | µs/window"
    print(f"| {columns} |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for venue in ("kraken", "bybit", "hyperliquid"):
        fills, entries, anchors = _history(venue, args.steps)

        def fifo(fills: list[Fill] = fills) -> None:
            books: dict[str, FifoBook] = {}
            for fill in sorted(fills, key=lambda f: f.sort_key):
                books.setdefault(fill.symbol, FifoBook(fill.symbol)).apply(fill)

        def explained(
            fills: list[Fill] = fills,
            entries: list[LedgerRecord] = entries,
            anchors: dict[str, list[Anchor]] = anchors,
        ) -> None:
            windows = explain(anchors, fill_flows(fills) + entry_flows(entries), band_ms=0)
            assert all(w.ok for w in windows)

        fifo_s = _best(fifo, args.rounds)
        explain_s = _best(explained, args.rounds)
        windows = len(explain(anchors, fill_flows(fills) + entry_flows(entries), band_ms=0))
        print(
            f"| {venue} | {len(fills)} | {len(entries)} | {windows} | {len(fills) / fifo_s:,.0f} "
            f"| {len(fills) / explain_s:,.0f} | {explain_s / fifo_s:.2f}x | {explain_s / windows * 1e6:.1f} |"
        )


if __name__ == "__main__":
    main()
