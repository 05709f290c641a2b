"""Fitting the dashboard to the terminal, so that what matters stays on screen at any size.

Always shown: the header, the per-account summary and the latest fills with their realised PnL,
each cut to the rows that fit (at least ``MIN_ROWS`` each; the title says how many are shown). The
other sections (balances, open orders, positions) share what is left: all of them when they fit,
otherwise in turn, the first one shown changing every ``ROTATE_S`` seconds, with a line that
names the sections not on screen right now and how many rows each holds. Nothing is cut
silently.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import partial

from rich.console import Console, Group, RenderableType
from rich.text import Text

from fullon_account_service.demo import dashboard as d
from fullon_account_service.demo.snapshot import Snapshot

MIN_ROWS = 3
ROTATE_S = 5.0
BOXED_HEADER_FROM = 30
"""Terminals at least this tall get the header in a box; smaller ones save its two lines."""
VENUE_COLUMN_FROM = 120
"""Narrower terminals leave out the venue of the sections other than Accounts and the account's
name (ex_id and venue name it)."""
ROTATING_FLOOR = 5
"""Lines kept for the rotating sections when there is room: a title, a header and two rows."""

Section = Callable[[Snapshot, int | None], RenderableType]
ROTATING: tuple[
    tuple[str, Callable[..., RenderableType], Callable[[Snapshot], int], Callable[[Snapshot], int]], ...
] = (
    # name, section, rows it can show, how many it holds
    (
        "Balances",
        d.balances,
        lambda s: len({b.ex_id for b in s.balances}),
        lambda s: len({b.ex_id for b in s.balances}),
    ),
    ("Open orders", d.orders, lambda s: len(s.open_orders), lambda s: s.open_orders_total),
    ("Positions", d.positions, lambda s: len(s.positions), lambda s: len(s.positions)),
)


def height_of(renderable: RenderableType, width: int) -> int:
    """Lines ``renderable`` takes at ``width``."""
    console = Console(width=width, file=io.StringIO(), color_system=None)
    return len(console.render_lines(renderable, console.options, pad=False))


def _fitting(section: Section, snapshot: Snapshot, total: int, width: int, lines: int) -> int:
    """The most rows (at most ``total``) of ``section`` that fit in ``lines``; 0 if none do."""
    rows = total
    while rows > 0:
        over = height_of(section(snapshot, rows), width) - lines
        if over <= 0:
            return rows
        rows -= over
    return 0


def fit(snapshot: Snapshot, width: int, height: int) -> RenderableType:
    budget = height - 1  # a live display keeps the cursor on the line below it
    venue = width >= VENUE_COLUMN_FROM
    accounts: Section = partial(d.accounts, names=venue)
    fills: Section = partial(d.fills, venue=venue)
    parts: list[RenderableType] = [d.header(snapshot, boxed=height >= BOXED_HEADER_FROM)]
    left = budget - height_of(parts[0], width)
    n_accounts, n_fills = len(snapshot.accounts), len(snapshot.fills)
    least_accounts, least_fills = min(MIN_ROWS, n_accounts), min(MIN_ROWS, n_fills)
    fills_floor = height_of(fills(snapshot, least_fills), width)
    floor = height_of(accounts(snapshot, least_accounts), width) + fills_floor
    rotating_floor = ROTATING_FLOOR if left - floor >= ROTATING_FLOOR else 0
    rows = _fitting(accounts, snapshot, n_accounts, width, left - fills_floor - rotating_floor)
    parts.append(accounts(snapshot, max(least_accounts, rows)))
    left -= height_of(parts[-1], width)
    rows = _fitting(fills, snapshot, n_fills, width, left - rotating_floor)
    latest = fills(snapshot, max(least_fills, rows))
    left -= height_of(latest, width)
    parts += [*(_rotating(snapshot, width, left, venue) if left > 0 else []), latest]
    return Group(*parts)


def _rotating(snapshot: Snapshot, width: int, lines: int, venue: bool) -> list[RenderableType]:
    """All of balances, orders and positions if they fit in ``lines``, else as many as fit in turn."""
    sections = [
        (name, partial(section, venue=venue), rows_of, count_of)
        for name, section, rows_of, count_of in ROTATING
    ]
    full = [section(snapshot, None) for _, section, _, _ in sections]
    if sum(height_of(part, width) for part in full) <= lines:
        return full
    start = int(snapshot.elapsed_s // ROTATE_S) % len(ROTATING)
    shown: list[RenderableType] = []
    hidden: list[str] = []
    room = lines - 1  # the line naming what is not shown
    for name, section, rows_of, count_of in sections[start:] + sections[:start]:
        rows = _fitting(section, snapshot, rows_of(snapshot), width, room)
        part = section(snapshot, rows)
        if (rows > 0 or rows_of(snapshot) == 0) and height_of(part, width) <= room:
            shown.append(part)
            room -= height_of(part, width)
        else:
            hidden.append(f"{name} ({count_of(snapshot)})")
    if not hidden:
        return shown
    note = f"not on screen now, shown in turn every {ROTATE_S:g}s: {', '.join(hidden)}"
    return [*shown, Text(note, style="dim", no_wrap=True, overflow="ellipsis")]
