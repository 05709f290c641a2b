"""The demo on a terminal, as an operator starts it: every frame fits the terminal, at 80x24 and,
after the terminal is resized, at 200x50; the last frame says it stopped.

The demo runs as a process on a pseudo-terminal. rich's ``Live`` starts each redraw by taking the
cursor back over the previous frame ("erase line" and "cursor up" codes), so the output splits
into frames there; the escape codes are then dropped and each frame's lines measured, from its
header on (a line the demo printed above the dashboard comes first) and up to the summary the
demo prints after its last frame. A frame read before the resize was drawn before it; one read
after may be either, so the 80x24 bounds hold for the first and the 200x50 ones for all. The
final frame is drawn once the demo's duration is over, always after the resize. The demo keeps
its own SQLite file and in-process Redis whatever the suite's backends are.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from rich.cells import cell_len

DEADLINE_S = 240.0
"""How long the demo may take in all on a loaded machine (its own duration is 8 s)."""
REDRAW = re.compile(r"\r?(?:\x1b\[2K\x1b\[1A)+\x1b\[2K")
HEADER = ("╭", "fullon-account demo  ")
ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
ROTATING = ("Balances", "Open orders", "Positions")
A_FILL_STORED = re.compile(r"Latest fills \([1-9]")
FILLS_DRAWN = re.compile(A_FILL_STORED.pattern + r"[\s\S]*?" + REDRAW.pattern)
"""A whole frame of the running dashboard at 80x24 with fills and their realised PnL (the next
redraw has begun): then the terminal is resized."""


def resize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def frames(output: str, *, ended: bool) -> list[list[str]]:
    """The first frame's and each redraw's lines, escape codes dropped; unless the demo ``ended``,
    the last, which may be only partly written, is left out."""
    chunks = REDRAW.split(output)
    found = []
    for chunk in chunks if ended else chunks[:-1]:
        lines = ESCAPE.sub("", chunk).replace("\r\n", "\n").split("\n")
        starts = [n for n, line in enumerate(lines) if line.startswith(HEADER)]
        if not starts:
            continue
        lines = lines[starts[0] :]
        if "demo summary" in lines:
            lines = lines[: lines.index("demo summary")]
        while lines and not lines[-1].strip():
            lines.pop()
        found.append(lines)
    return found


class Terminal:
    """The demo's output as read so far from the master side of its pseudo-terminal."""

    def __init__(self, master: int) -> None:
        self._master = master
        self._raw = bytearray()
        self._deadline = time.monotonic() + DEADLINE_S

    @property
    def text(self) -> str:
        return self._raw.decode(errors="replace")

    def read_until(self, done: re.Pattern[str] | None) -> None:
        """Read until ``done`` is found in the output, or (None) until the demo closes the terminal."""
        while done is None or not done.search(self.text):
            left = self._deadline - time.monotonic()
            assert left > 0, f"the demo did not get there in {DEADLINE_S:.0f} s:\n{self.text[-3000:]}"
            ready, _, _ = select.select([self._master], [], [], min(left, 1.0))
            if not ready:
                continue
            try:
                data = os.read(self._master, 65536)
            except OSError:  # EIO: every process holding the terminal closed it
                data = b""
            if not data:
                assert done is None, f"the demo ended before {done!r}:\n{self.text[-3000:]}"
                return
            self._raw += data


def test_demo_fits_each_frame_to_the_terminal_and_ends_on_a_stopped_frame(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    resize(slave, 24, 80)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(ACCOUNT_DATA_DIR=str(tmp_path), ACCOUNT_METRICS_PORT="", TERM="xterm-256color")
    entry = str(Path(sys.executable).with_name("fullon-account"))
    proc = subprocess.Popen(
        [entry, "demo", "--duration", "8"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    terminal = Terminal(master)
    try:
        terminal.read_until(FILLS_DRAWN)
        small = frames(terminal.text, ended=False)
        resize(master, 50, 200)
        terminal.read_until(None)
        code = proc.wait(timeout=DEADLINE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    output = terminal.text
    assert code == 0, output[-3000:]
    assert "starting the simulator" in "\n".join(small[0]), "the first frame says it is starting"

    assert any(A_FILL_STORED.search(line) for frame in small for line in frame), "fills seen at 80x24"
    for frame in small:
        shown = "\n".join(frame)
        assert len(frame) <= 24 and max(map(cell_len, frame)) <= 80, shown
        assert "Accounts" in shown and "Latest fills" in shown and "realised PnL" in shown, shown
        for section in ROTATING:
            assert section in shown, f"{section} neither shown nor named as hidden:\n{shown}"

    every = frames(output, ended=True)
    assert all(len(f) <= 50 and max(map(cell_len, f), default=0) <= 200 for f in every)
    wide = [f for f in every if max(map(cell_len, f), default=0) > 80]
    assert wide, "after the resize the frames use the terminal's new width"
    last = "\n".join(every[-1])
    assert "stopped after" in last and "Ctrl-C" not in last, last
    for section in ("Accounts", "Latest fills", "realised PnL", *ROTATING):
        assert section in last, f"{section} missing from the 200x50 stopped frame:\n{last}"
