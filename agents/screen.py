"""Screens: what tmux captured of a pane (CapturedScreen, what the AI drivers read), and a
virtual terminal that replays bytes (VirtualScreen, pyte) for saved `capture-pane -e` screens.

AI panes are not replayed here: tmux keeps their screens and the drivers read them back at a
bounded rate (agents/interactive.py). pyte (~1.5-2.6 ms of CPU per KB of redraws, measured on
this machine) rebuilds saved screens with escapes (`overseer explain`, the screen corpus) and
stands in for tmux in unit tests.
"""

from __future__ import annotations

import pyte


class VirtualScreen:
    """The screen an interactive agent would show, rebuilt from its output bytes."""

    def __init__(self, columns: int = 200, lines: int = 50) -> None:
        self.screen = pyte.Screen(columns, lines)
        self.stream = pyte.ByteStream(self.screen)
        self.generation = 0  # bumped on every feed: cheap change detection

    @property
    def size(self) -> tuple[int, int]:
        """(columns, lines)."""
        return self.screen.columns, self.screen.lines

    def feed(self, data: bytes) -> None:
        """Replay output bytes (escape sequences, redraws) onto the screen."""
        if not data:
            return
        try:
            self.stream.feed(data)
        except Exception:  # noqa: BLE001 - a malformed sequence must never stop supervision
            self.stream = pyte.ByteStream(self.screen)
        self.generation += 1

    def resize(self, columns: int, lines: int) -> None:
        """Follow the pane's size (the program redraws after SIGWINCH)."""
        if (columns, lines) != self.size and columns > 0 and lines > 0:
            self.screen.resize(lines=lines, columns=columns)
            self.generation += 1

    def lines(self) -> list[str]:
        """The screen's lines, right-stripped."""
        return [line.rstrip() for line in self.screen.display]

    def text(self) -> str:
        """The screen as text without trailing blank lines."""
        rows = self.lines()
        while rows and not rows[-1]:
            rows.pop()
        return "\n".join(rows)

    def reset(self) -> None:
        """Forget everything (after a respawn)."""
        self.screen.reset()
        self.generation += 1


def screen_from_capture(text: str, columns: int = 200, lines: int = 60) -> VirtualScreen:
    """A screen rebuilt from a saved `capture-pane -p -e` text (newline-separated rows)."""
    rows = text.split("\n")
    vs = VirtualScreen(max(columns, 20), max(lines, len(rows)))
    vs.feed(text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8", "replace"))
    return vs


class CapturedScreen:
    """The screen as tmux keeps it, read back with `capture-pane -p` (no byte replay here)."""

    def __init__(self) -> None:
        self.rows: list[str] = []
        self.generation = 0  # bumped when a capture shows something new: cheap change detection

    def set(self, text: str) -> bool:
        """Take a capture (newline-separated rows); True when it differs from the last one."""
        rows = [line.rstrip() for line in text.split("\n")]
        while rows and not rows[-1]:
            rows.pop()
        if rows == self.rows:
            return False
        self.rows = rows
        self.generation += 1
        return True

    def lines(self) -> list[str]:
        """The screen's lines, right-stripped (trailing blank rows left out)."""
        return self.rows

    def text(self) -> str:
        """The screen as text without trailing blank lines."""
        return "\n".join(self.rows)

    def reset(self) -> None:
        """Forget everything (after a respawn)."""
        self.rows = []
        self.generation += 1
