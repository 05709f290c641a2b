"""``fullon-account demo``: the whole service against the simulator, and how it is drawn.

The end-to-end run is a subprocess with ``REDIS_URL`` / ``DATABASE_URL`` left as the suite has
them: the demo must ignore them and use its own SQLite file and in-process Redis, so on the real
backends the test also checks that nothing reached the real Redis.
"""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path

import redis
from ops_helpers import run_cli
from rich.console import Console

import factories
from fullon_account_service.bus.consumer import Delivery
from fullon_account_service.contract import (
    Payload,
)
from fullon_account_service.demo.counters import EventCounter
from fullon_account_service.demo.dashboard import progress_line, render
from fullon_account_service.demo.layout import ROTATE_S, fit
from fullon_account_service.demo.report import EQUAL_LINE, DemoResult, summary_lines
from fullon_account_service.demo.screen import Screen
from fullon_account_service.demo.snapshot import (
    AccountLine,
    BalanceLine,
    FillLine,
    OrderLine,
    PositionLine,
    Snapshot,
)
from fullon_account_service.demo.wiring import DemoAccount
from fullon_account_service.simulator.credentials import make_credentials
from fullon_account_service.simulator.scenario import VENUES
from fullon_account_service.verify.compare import BooksComparison


def _real_redis() -> redis.Redis | None:
    url = os.environ.get("REDIS_URL")
    return redis.Redis.from_url(url) if url else None


async def test_demo_with_duration_exits_0_with_equal_books(tmp_path: Path) -> None:
    real = _real_redis()
    if real is not None:
        real.flushdb()
    data = tmp_path / "data"
    env = {"ACCOUNT_DATA_DIR": str(data), "LOG_LEVEL": "INFO", "ACCOUNT_METRICS_PORT": ""}
    code, out, err = await run_cli(["demo", "--duration", "20"], env)

    assert code == 0, f"stdout:\n{out}\nstderr:\n{err}"
    assert EQUAL_LINE in out
    assert "events processed:" in out and "accounts: 6 (kraken 2, bybit 2, hyperliquid 2)" in out
    assert "running:" in out, "a non-terminal gets progress lines"
    assert out.startswith("[starting the simulator"), "the first frame comes before the slow imports"
    assert "stopped after" in out and "done:" in out, "the last frame says the demo stopped"
    assert "[info" not in err and "[info" not in out, "logs go to the file, not the terminal"
    (log,) = data.glob("demo-*.log")
    (database,) = data.glob("demo-*.db")
    assert str(log) in out and str(database) in out
    logged = log.read_text()
    assert "AccountDaemon started successfully" in logged
    for venue in VENUES:
        for index in range(2):
            creds = make_credentials(7, venue, index)
            for secret in (creds.secret, creds.api_key if venue != "hyperliquid" else creds.secret):
                assert secret not in out and secret not in err and secret not in logged
    if real is not None:
        assert real.dbsize() == 0, "the demo must not touch REDIS_URL"
        real.close()


def snapshot() -> Snapshot:
    return Snapshot(
        elapsed_s=12.4,
        phase="running",
        duration_s=20.0,
        accounts=[
            AccountLine(1, "kraken", "sim-kraken-0", "partial_websocket", "WS 3/3 live", 0.4),
            AccountLine(2, "bybit", "sim-bybit-0", "full_websocket", "WS 3/4 live, REST covers orders", 1.2),
            AccountLine(3, "hyperliquid", "sim-hyperliquid-0", "rest_only", "REST every 3s", None),
        ],
        balances=[
            BalanceLine(1, "USD", 100_000.0, 95_000.5, 4_999.5),
            BalanceLine(1, "BTC", 1.25, 1.0, 0.25),
            BalanceLine(3, "USDC", 99_871.126, None, None),
        ],
        open_orders=[OrderLine(1, "BTC/USD", "buy", 0.5, 61_234.5, 0.1)],
        open_orders_total=3,
        positions=[PositionLine(2, "ETH/USDT:USDT", "short", 2.0, 3_100.0, -12.5)],
        fills=[
            FillLine(2, "ETH/USDT:USDT", "sell", 1.0, 3_125.0, 0.75, "USDT", 12.5, 1_700_000_000_000),
            FillLine(1, "BTC/USD", "buy", 0.1, 61_000.0, None, None, None, 1_700_000_000_500),
        ],
        fills_total=42,
        events_by_kind={"balance": 10, "order": 20, "position": 3, "trade": 42},
        events_per_s=37.5,
        scenario_steps=124,
        lag=2,
        pending=1,
        dead_letters=0,
        log_path="data/demo-x.log",
    )


def text_of(renderable: object, width: int = 180) -> str:
    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_dashboard_shows_every_section_of_the_snapshot() -> None:
    text = text_of(render(snapshot()))
    for expected in (
        "running",
        "12s / 20s",
        "37.5 events/s",
        "balance 10 order 20 position 3 trade 42",
        "lag 2, pending 1, dead letters 0",
        "logs: data/demo-x.log",
        "partial_websocket",
        "WS 3/4 live, REST covers orders",
        "REST every 3s",
        "0.4s ago",
        "never",
        "USD 100,000.00 / 95,000.50",
        "BTC 1.25 / 1",
        "USDC 99,871.13 / -",
        "Open orders (3, newest 1 shown)",
        "61,234.50",
        "ETH/USDT:USDT",
        "-12.50",
        "Latest fills (42 stored)",
        "+12.50",
        "0.75 USDT",
    ):
        assert expected in text, f"{expected!r} missing from:\n{text}"
    rows = {line.split()[0] for line in text.splitlines() if line.strip()}
    assert {"1", "2", "3"} <= rows


def test_empty_snapshot_renders() -> None:
    text = text_of(render(Snapshot(elapsed_s=0.0, phase="starting")))
    assert "starting the simulator" in text
    assert "Open orders (0, newest 0 shown)" in text


def busy() -> Snapshot:
    """Six accounts, and more orders, balances, positions and fills than 24 lines can hold."""
    base = snapshot()
    accounts = [
        AccountLine(n, venue, f"sim-{venue}-{n}", "full_websocket", "WS 4/4 live", 0.5)
        for n, venue in enumerate(("kraken", "kraken", "bybit", "bybit", "hyperliquid", "hyperliquid"), 1)
    ]
    return dataclasses.replace(
        base,
        accounts=accounts,
        balances=[BalanceLine(n, "USD", 1000.0 * n, 900.0, 100.0) for n in range(1, 7)],
        open_orders=[OrderLine(n % 6 + 1, "BTC/USD", "buy", 0.5, 61_000.0 + n, 0.0) for n in range(10)],
        open_orders_total=25,
        positions=[PositionLine(n, "ETH/USDT:USDT", "long", 1.0, 3000.0, 5.0) for n in range(3, 7)],
        fills=[
            FillLine(n % 6 + 1, "SOL/USDT:USDT", "sell", 1.0, 150.0, 0.1, "USDT", 2.5, 1_700_000_000_000 + n)
            for n in range(8)
        ],
    )


def frame(snap: Snapshot, width: int, height: int) -> list[str]:
    console = Console(file=io.StringIO(), width=width, height=height, record=True, color_system=None)
    console.print(fit(snap, width, height))
    return console.export_text().rstrip("\n").splitlines()


ROTATING = ("Balances", "Open orders", "Positions")


def test_fitted_dashboard_keeps_fills_and_accounts_at_80x24_and_rotates_the_rest() -> None:
    shown: set[str] = set()
    for turn in range(len(ROTATING)):
        lines = frame(dataclasses.replace(busy(), elapsed_s=turn * ROTATE_S), 80, 24)
        text = "\n".join(lines)
        assert len(lines) <= 23, text
        assert "Accounts" in text and "Latest fills (42 stored)" in text and "realised PnL" in text
        assert "+2.50" in text, "fills show their realised PnL"
        assert all(f"{n}     " in text or f"{n} " in text for n in range(1, 4))
        for section in ROTATING:
            on_screen = any(line.startswith(section) for line in lines)
            assert on_screen or section in lines[-1] or any(section in line for line in lines), section
            if on_screen:
                shown.add(section)
        assert any(line.startswith("not on screen now") for line in lines), "hidden sections are named"
    assert shown == set(ROTATING), "each section gets its turn"


def test_fitted_dashboard_shows_every_section_at_200x50() -> None:
    lines = frame(busy(), 200, 50)
    text = "\n".join(lines)
    assert len(lines) <= 49, text
    for section in ("fullon-account demo", "Accounts", *ROTATING, "Latest fills", "realised PnL"):
        assert section in text, section
    assert "not on screen now" not in text
    assert "sim-hyperliquid-6" in text and "+2.50" in text


def test_final_frame_says_it_stopped() -> None:
    done = dataclasses.replace(busy(), phase="done", elapsed_s=61.0)
    for text in ("\n".join(frame(done, 80, 24)), text_of(render(done)), progress_line(done)):
        assert "stopped after 61s" in text and "Ctrl-C" not in text


def test_progress_line_and_non_terminal_screen() -> None:
    line = progress_line(snapshot())
    assert line.startswith("[12s / 20s] running: 3 accounts, 75 events stored")
    assert "37.5/s" in line and "42 fills" in line
    out = io.StringIO()
    now = [0.0]
    screen = Screen(Console(file=out, width=40), every_s=3.0, clock=lambda: now[0])
    with screen:
        for t in (0.0, 1.0, 2.9, 3.0, 4.0, 6.5):
            now[0] = t
            screen.show(snapshot())
        screen.show(snapshot(), force=True)
    printed = out.getvalue().splitlines()
    assert len(printed) == 4, "one line per 3 s, plus the forced one, never wrapped"
    assert all(p == line for p in printed)


def test_summary_says_equal_or_lists_differences() -> None:
    accounts = [DemoAccount(1, "kraken", 0, "a"), DemoAccount(2, "bybit", 0, "b")]
    kinds = {"balance": 1, "order": 2, "position": 0, "trade": 3}
    equal = BooksComparison(accounts=2, fills=3, orders=2)
    result = DemoResult(accounts, kinds, 10, equal, True, 1.5, "x.db", "x.log")
    lines = summary_lines(result)
    assert result.ok
    assert f"{EQUAL_LINE} (2 accounts, 2 orders, 3 fills)" in lines
    assert "  events processed: 6 (balance 1 order 2 position 0 trade 3 ledger 0)" in lines
    assert "  accounts: 2 (kraken 1, bybit 1)" in lines

    differs = BooksComparison(accounts=2, limit=1)
    differs.add("kraken#0 ex_id 1: fill T1 is missing")
    differs.add("bybit#0 ex_id 2: order O1 is missing")
    result = DemoResult(accounts, kinds, 10, differs, False, 20.0, "x.db", "x.log")
    text = "\n".join(summary_lines(result))
    assert not result.ok
    assert "NOT equal" in text and "fill T1 is missing" in text and "1 more" in text
    assert "deadline reached" in text


def delivery(ex_id: int, kind: str) -> Delivery:
    payload: Payload = factories.balance("USD", total=1.0, free=None, used=None)
    if kind == "trade":
        payload = factories.fill("t", ex_order_id="o", symbol="BTC/USD", volume=0.25)
    envelope = factories.envelope(
        payload, ex_id=ex_id, exchange_ms=None, received_ms=factories.NOW_MS, eid=f"event-{ex_id}-{kind}"
    )
    return factories.deliveries([envelope], stream="s")[0]


def test_counter_counts_stored_events_per_kind_and_account() -> None:
    now = [100.0]
    counter = EventCounter(window_s=5.0, clock=lambda: now[0], wall=lambda: 1_000.0)
    assert counter.rate() == 0.0 and counter.total == 0
    counter.record([delivery(5, "balance"), delivery(6, "trade")])
    now[0] = 102.0
    assert counter.total == 2
    assert counter.last_event_at == {5: 1_000.0, 6: 1_000.0}
    assert counter.rate() == 1.0
    now[0] = 200.0
    assert counter.rate() == 0.0
