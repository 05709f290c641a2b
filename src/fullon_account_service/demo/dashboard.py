"""Drawing a ``Snapshot``: the dashboard's sections, the one-line progress and nothing else.

Pure functions of the snapshot, so what the operator sees is testable without running anything.
Each section can be cut to a number of rows (its title then says how many are shown);
``layout`` chooses those numbers to fit a terminal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from fullon_account_service.contract import KINDS
from fullon_account_service.demo.snapshot import BalanceLine, Snapshot

_PHASE_STYLE = {"starting": "yellow", "running": "green", "settling": "yellow", "done": "cyan"}


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
    if snapshot.phase == "starting":
        return "starting the simulator, the producer and the sinks..."
    if snapshot.phase == "done":
        return f"stopped after {snapshot.elapsed_s:.0f}s"
    if snapshot.phase == "settling":
        return f"{snapshot.elapsed_s:.0f}s, trading stopped, waiting for the books to settle"
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


def header(snapshot: Snapshot, *, boxed: bool = True) -> RenderableType:
    phase = Text(snapshot.phase, style=_PHASE_STYLE.get(snapshot.phase, "white"))
    text = Text.assemble(
        ("fullon-account demo  ", "bold"),
        phase,
        f"  {clock(snapshot)}  ",
        (f"{snapshot.events_per_s:.1f} events/s", "bold"),
        f"  stored: {kinds_text(snapshot.events_by_kind)}",
        f"\nbus lag {snapshot.lag}, pending {snapshot.pending}, dead letters {snapshot.dead_letters}"
        f"  scenario steps {snapshot.scenario_steps}",
        # The log path is printed before the dashboard and in the summary: a small screen skips it.
        f"  logs: {snapshot.log_path}" if boxed else "",
    )
    return Panel(text, expand=True) if boxed else text


def _table(title: str, *columns: str, fitted: bool) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False, min_width=len(title))
    for name in columns:
        if fitted:
            table.add_column(name, overflow="ellipsis", no_wrap=True, min_width=min(len(name), 6))
        else:
            table.add_column(name, overflow="fold")
    return table


def _cut(table: Table, shown: int, total: int, what: str) -> Table:
    if shown < total:
        table.title = f"{table.title} ({shown} of {total} {what} shown)"
        table.min_width = len(table.title)
    return table


def accounts(snapshot: Snapshot, rows: int | None = None, *, names: bool = True) -> Table:
    lines = snapshot.accounts[:rows]
    table = _table(
        "Accounts", "ex_id", "venue", "name", "strategy", "stream", "last event", fitted=rows is not None
    )
    for a in lines:
        stale = a.last_event_age_s is None or a.last_event_age_s > 30
        table.add_row(
            str(a.ex_id),
            a.venue,
            a.name,
            a.strategy,
            Text(a.stream, style="red" if a.stream.startswith("error") else ""),
            Text(age(a.last_event_age_s), style="yellow" if stale else ""),
        )
    if not names:
        del table.columns[2]
    return _cut(table, len(lines), len(snapshot.accounts), "accounts")


def balances(snapshot: Snapshot, rows: int | None = None, *, venue: bool = True) -> Table:
    venues = _venues(snapshot)
    table = _table("Balances (total / free)", "ex_id", "venue", "currencies", fitted=rows is not None)
    by_account: dict[int, list[BalanceLine]] = {}
    for line in snapshot.balances:
        by_account.setdefault(line.ex_id, []).append(line)
    shown = list(by_account.items())[:rows]
    for ex_id, lines in shown:
        cells = "  ".join(f"{b.currency} {number(b.total)} / {number(b.free)}" for b in lines)
        table.add_row(str(ex_id), venues.get(ex_id, "?"), cells)
    return _venue(_cut(table, len(shown), len(by_account), "accounts"), venue)


def orders(snapshot: Snapshot, rows: int | None = None, *, venue: bool = True) -> Table:
    venues = _venues(snapshot)
    lines = snapshot.open_orders[:rows]
    table = _table(
        f"Open orders ({snapshot.open_orders_total}, newest {len(lines)} shown)",
        "ex_id", "venue", "symbol", "side", "volume", "price", "filled",
        fitted=rows is not None,
    )  # fmt: skip
    for o in lines:
        table.add_row(
            str(o.ex_id),
            venues.get(o.ex_id, "?"),
            o.symbol,
            o.side,
            number(o.volume),
            number(o.price),
            number(o.filled),
        )
    return _venue(table, venue)


def positions(snapshot: Snapshot, rows: int | None = None, *, venue: bool = True) -> Table:
    venues = _venues(snapshot)
    lines = snapshot.positions[:rows]
    table = _table(
        "Positions",
        "ex_id",
        "venue",
        "symbol",
        "side",
        "volume",
        "entry",
        "unrealised PnL",
        fitted=rows is not None,
    )
    for p in lines:
        table.add_row(
            str(p.ex_id),
            venues.get(p.ex_id, "?"),
            p.symbol,
            p.side,
            number(p.volume),
            number(p.entry_price),
            _pnl(p.unrealized_pnl),
        )
    return _venue(_cut(table, len(lines), len(snapshot.positions), "positions"), venue)


def fills(snapshot: Snapshot, rows: int | None = None, *, venue: bool = True) -> Table:
    venues = _venues(snapshot)
    lines = snapshot.fills[:rows]
    table = _table(
        f"Latest fills ({snapshot.fills_total} stored)",
        "ex_id", "venue", "symbol", "side", "volume", "price", "fee", "realised PnL",
        fitted=rows is not None,
    )  # fmt: skip
    for f in lines:
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
    return _venue(table, venue)


def _venue(table: Table, keep: bool) -> Table:
    """The table without its venue column (the second) unless ``keep``: ex_id names the account."""
    if not keep:
        del table.columns[1]
    return table


def _venues(snapshot: Snapshot) -> dict[int, str]:
    return {a.ex_id: a.venue for a in snapshot.accounts}


def _pnl(value: float | None) -> Text:
    if value is None:
        return Text("-")
    style = "green" if value > 0 else "red" if value < 0 else ""
    return Text(f"{value:+,.2f}", style=style)


def render(snapshot: Snapshot) -> RenderableType:
    """The whole dashboard for one snapshot, every section in full (``layout.fit`` for a terminal)."""
    parts: Sequence[RenderableType] = (
        header(snapshot),
        accounts(snapshot),
        balances(snapshot),
        orders(snapshot),
        positions(snapshot),
        fills(snapshot),
    )
    return Group(*parts)
