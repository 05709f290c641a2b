"""CPU per call of the simulator's hot paths, the fast way against the plain way, in one process.

    uv run python bench/sim_hot_paths.py [--steps N] [--calls N]

A seeded Bybit scenario of ``--steps`` steps (one account, so its history grows as in a long
run), then each path timed with process CPU time (``time.process_time``, robust to a busy
machine), best of 3 rounds of ``--calls`` calls:

- ``/v5/execution/list`` first page: walking back from the window's end, against the same
  function made to sort every row (what ``main`` did, and still does for a list out of time order);
- the wallet entry (rendered on every balance change): open orders from the index, against a
  scan of every order;
- ``fmt`` of a price: ``repr`` against ``Decimal`` formatting;
- JSON of one execution frame: msgspec against ``json.dumps``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from decimal import Decimal

from fullon_account_service.simulator import wire
from fullon_account_service.simulator.model import SimAccount
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator
from fullon_account_service.simulator.venues.bybit import render
from fullon_account_service.simulator.venues.bybit.executions import TimeOrder, execution_page
from fullon_account_service.simulator.venues.bybit.wallet import OpenOrders, wallet_entry

START_MS = 1_700_000_000_000


class NeverInOrder(TimeOrder):
    """Every list taken as out of time order: the page is found by sorting every row."""

    def holds(self, rows: Sequence[object]) -> bool:  # type: ignore[override]
        return False


def cpu_us(call: Callable[[], object], calls: int) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.process_time()
        for _ in range(calls):
            call()
        best = min(best, time.process_time() - t0)
    return 1e6 * best / calls


def plain_fmt(value: float) -> str:
    text = format(Decimal(repr(float(value))), "f")
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("-0", "") else text


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=6_000)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    clock = [START_MS]
    config = ScenarioConfig(venues=("bybit",), accounts_per_venue=1, seed=5, rate_per_s=20)
    sim = Simulator(config, now_ms=lambda: clock[0])
    index = OpenOrders(sim.world)
    index.attach()
    for _ in range(args.steps):
        clock[0] += 50
        sim.engine.step()
    account: SimAccount = sim.world.accounts_of("bybit")[0]
    markets = {m.symbol: m for m in sim.world.markets["bybit"]}
    query = {"category": "linear"}
    fill = account.fills[-1]
    frame = {
        "topic": "execution",
        "data": [render.execution_row(fill, markets[fill.symbol], None, with_category=True)],
    }
    opened = sum(1 for _ in index.of(account))
    history = f"{len(account.fills):,} fills, {len(account.orders):,} orders ({opened} open)"
    print(f"sim_hot_paths: {args.steps:,} steps: {history}")
    rows = [
        (
            "execution list, first page",
            lambda: execution_page(account, markets, query, clock[0], NeverInOrder()),
            lambda: execution_page(account, markets, query, clock[0], TimeOrder()),
        ),
        (
            "wallet entry",
            lambda: wallet_entry(account, markets, ("USDT",)),
            lambda: wallet_entry(account, markets, ("USDT",), index.of(account)),
        ),
        ("fmt", lambda: plain_fmt(fill.price), lambda: render.fmt(fill.price)),
        (
            "JSON of an execution frame",
            lambda: json.dumps(frame, separators=(",", ":")),
            lambda: wire.dumps(frame),
        ),
    ]
    print(f"{'path':<28} {'plain us':>10} {'fast us':>10} {'ratio':>7}")
    for name, plain, fast in rows:
        assert plain() == fast() or name.startswith("JSON"), name
        before, after = cpu_us(plain, args.calls), cpu_us(fast, args.calls)
        print(f"{name:<28} {before:>10.1f} {after:>10.1f} {before / after:>6.1f}x")
    index.detach()


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    main()
