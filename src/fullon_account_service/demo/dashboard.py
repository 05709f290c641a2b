"""Drawing a ``Snapshot``: the live dashboard, the one-line progress and nothing else.

Pure functions of the snapshot, so what the operator sees is testable without running anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from fullon_account_service.contract import KINDS
from fullon_account_service.demo.state import BalanceLine, Snapshot

_PHASE_STYLE = {"running": "green", "settling": "yellow", "done": "cyan"}


def number(value: float | None) -> str:
    """Readable at a glance: thousands separated, six significant digits for small numbers."""
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.2f}"
    return f"{value:.6g}"


def age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    return f"{seconds:.1f}s ago"


def clock(snapshot: Snapshot) -> str:
    if snapshot.duration_s is None:
        return f"{snapshot.elapsed_s:.0f}s (Ctrl-C to stop)"
    return f"{snapshot.elapsed_s:.0f}s / {snapshot.duration_s:g}s"


def kinds_text(events_by_kind: Mapping[str, int]) -> str:
    return " ".join(f"{kind} {events_by_kind.get(kind, 0)}" for kind in KINDS)


def progress_line(snapshot: Snapshot) -> str:
    """What a non-terminal (CI, a pipe) gets every few seconds instead of the dashboard."""
    return (
        f"[{clock(snapshot)}] {snapshot.phase}: {len(snapshot.accounts)} accounts,"
        f" {snapshot.events_total} events stored ({kinds_text(snapshot.events_by_kind)}),"
        f" {snapshot.events_per_s:.1f}/s, lag {snapshot.lag}, pending {snapshot.pending},"
        f" {snapshot.open_orders_total} open orders, {snapshot.fills_total} fills"
    )


def _header(snapshot: Snapshot) -> RenderableType:
    phase = Text(snapshot.phase, style=_PHASE_STYLE.get(snapshot.phase, "white"))
    text = Text.assemble(
        ("fullon-account demo  ", "bold"),
        phase,
        f"  {clock(snapshot)}  ",
        (f"{snapshot.events_per_s:.1f} events/s", "bold"),
        f"  stored: {kinds_text(snapshot.events_by_kind)}",
        f"\nbus lag {snapshot.lag}, pending {snapshot.pending}, dead letters {snapshot.dead_letters}"
        f"  scenario steps {snapshot.scenario_steps}  logs: {snapshot.log_path}",
    )
    return Panel(text, expand=True)


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for name in columns:
        table.add_column(name, overflow="fold")
    return table


def _accounts(snapshot: Snapshot) -> Table:
    table = _table("Accounts", "ex_id", "venue", "name", "strategy", "stream", "last event")
    for a in snapshot.accounts:
        stale = a.last_event_age_s is None or a.last_event_age_s > 30
        table.add_row(
            str(a.ex_id),
            a.venue,
            a.name,
            a.strategy,
            Text(a.stream, style="red" if a.stream.startswith("error") else ""),
            Text(age(a.last_event_age_s), style="yellow" if stale else ""),
        )
    return table


def _balances(snapshot: Snapshot, venues: Mapping[int, str]) -> Table:
    table = _table("Balances (total / free)", "ex_id", "venue", "currencies")
    by_account: dict[int, list[BalanceLine]] = {}
    for line in snapshot.balances:
        by_account.setdefault(line.ex_id, []).append(line)
    for ex_id, lines in by_account.items():
        cells = "  ".join(f"{b.currency} {number(b.total)} / {number(b.free)}" for b in lines)
        table.add_row(str(ex_id), venues.get(ex_id, "?"), cells)
    return table


def _orders(snapshot: Snapshot, venues: Mapping[int, str]) -> Table:
    shown = len(snapshot.open_orders)
    table = _table(
        f"Open orders ({snapshot.open_orders_total}, newest {shown} shown)",
        "ex_id", "venue", "symbol", "side", "volume", "price", "filled",
    )  # fmt: skip
    for o in snapshot.open_orders:
        table.add_row(
            str(o.ex_id),
            venues.get(o.ex_id, "?"),
            o.symbol,
            o.side,
            number(o.volume),
            number(o.price),
            number(o.filled),
        )
    return table


def _positions(snapshot: Snapshot, venues: Mapping[int, str]) -> Table:
    table = _table("Positions", "ex_id", "venue", "symbol", "side", "volume", "entry", "unrealised PnL")
    for p in snapshot.positions:
        table.add_row(
            str(p.ex_id),
            venues.get(p.ex_id, "?"),
            p.symbol,
            p.side,
            number(p.volume),
            number(p.entry_price),
            _pnl(p.unrealized_pnl),
        )
    return table


def _fills(snapshot: Snapshot, venues: Mapping[int, str]) -> Table:
    table = _table(
        f"Latest fills ({snapshot.fills_total} stored)",
        "ex_id", "venue", "symbol", "side", "volume", "price", "fee", "realised PnL",
    )  # fmt: skip
    for f in snapshot.fills:
        fee = "-" if f.fee is None else f"{number(f.fee)} {f.fee_currency or ''}".rstrip()
        table.add_row(
            str(f.ex_id),
            venues.get(f.ex_id, "?"),
            f.symbol,
            f.side,
            number(f.volume),
            number(f.price),
            fee,
            _pnl(f.realised_pnl),
        )
    return table


def _pnl(value: float | None) -> Text:
    if value is None:
        return Text("-")
    style = "green" if value > 0 else "red" if value < 0 else ""
    return Text(f"{value:+,.2f}", style=style)


def render(snapshot: Snapshot) -> RenderableType:
    """The whole dashboard for one snapshot."""
    venues = {a.ex_id: a.venue for a in snapshot.accounts}
    parts: Sequence[RenderableType] = (
        _header(snapshot),
        _accounts(snapshot),
        _balances(snapshot, venues),
        _orders(snapshot, venues),
        _positions(snapshot, venues),
        _fills(snapshot, venues),
    )
    return Group(*parts)
