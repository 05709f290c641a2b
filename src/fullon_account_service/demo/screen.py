"""Where snapshots go: a rich ``Live`` dashboard on a terminal, a progress line anywhere else.

A pipe or a CI log cannot take cursor movements, so off a terminal the dashboard is replaced by
one line every ``every_s`` seconds. On a terminal each frame is fitted to its current size.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.live import Live

from fullon_account_service.demo.dashboard import progress_line
from fullon_account_service.demo.layout import fit
from fullon_account_service.demo.snapshot import Snapshot


class Screen:
    def __init__(
        self,
        console: Console,
        *,
        every_s: float = 3.0,
        live: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._console = console
        self._every_s = every_s
        self._clock = clock
        self._live = (
            Live(console=console, auto_refresh=False)
            if (console.is_terminal if live is None else live)
            else None
        )
        self._last_line: float | None = None

    def __enter__(self) -> Screen:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.stop()

    def show(self, snapshot: Snapshot, *, force: bool = False) -> None:
        if self._live is not None:
            width, height = self._console.size
            self._live.update(fit(snapshot, width, height), refresh=True)
            return
        now = self._clock()
        if force or self._last_line is None or now - self._last_line >= self._every_s:
            self._last_line = now
            self.say(progress_line(snapshot))

    def say(self, line: str) -> None:
        """Plain text, unwrapped and without rich markup (brackets in it are literal)."""
        self._console.print(line, markup=False, highlight=False, soft_wrap=True)
