"""An attempt replayed as it happened: its recorded output fed, at its recorded times, to the
virtual terminal the AI agents' screens are rebuilt with (agents/screen.py, pyte)."""

from __future__ import annotations

import time
from bisect import bisect_right
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Label

from overseer.agents.record import PANE_SIZE, Recording
from overseer.agents.screen import VirtualScreen

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
SEEK = 5.0  # seconds a left or right arrow moves
FPS = 20  # redraws a second while playing
_NAMES = {"brown": "yellow", "default": None}


def _color(name: str) -> str | None:
    """A pyte colour (a name, 'bright'+name, or six hex digits) as Rich reads it."""
    if name in _NAMES:
        return _NAMES[name]
    if len(name) == 6 and all(c in "0123456789abcdefABCDEF" for c in name):
        return "#" + name
    if name.startswith("bright") and len(name) > 6:
        base = _color(name[6:])
        return f"bright_{base}" if base else None
    return name


def _clock(seconds: float) -> str:
    minutes, rest = divmod(max(0.0, seconds), 60)
    return f"{int(minutes)}:{rest:04.1f}"


class TerminalView(Widget):
    """The rows of a virtual screen up to its cursor, as many as fit (the newest at the bottom)."""

    DEFAULT_CSS = "TerminalView { height: 1fr; overflow: hidden; }"

    def __init__(self, screen: VirtualScreen, **kw: Any) -> None:
        super().__init__(**kw)
        self.vscreen = screen

    def render(self) -> Text:
        screen = self.vscreen.screen
        last = screen.cursor.y
        rows = self.size.height or screen.lines
        text = Text(no_wrap=True, overflow="crop", end="")
        styles: dict[tuple[Any, ...], Style] = {}
        for y in range(max(0, last + 1 - rows), last + 1):
            line = screen.buffer[y]
            width = max((x + 1 for x, ch in line.items() if ch.data.strip()), default=0)
            for x in range(min(width, self.size.width or width)):
                ch = line[x]
                key = (ch.fg, ch.bg, ch.bold, ch.italics, ch.underscore, ch.reverse)
                style = styles.get(key)
                if style is None:
                    style = styles[key] = Style(
                        color=_color(ch.fg),
                        bgcolor=_color(ch.bg),
                        bold=ch.bold,
                        italic=ch.italics,
                        underline=ch.underscore,
                        reverse=ch.reverse,
                    )
                text.append(ch.data or " ", style)
            if y < last:
                text.append("\n")
        return text


class ReplayScreen(ModalScreen[None]):
    """Play, pause, seek and change the speed of one attempt's recording."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close"),
        Binding("space", "play_pause", "Play/pause"),
        Binding("left", "seek(-1)", "-5 s"),
        Binding("right", "seek(1)", "+5 s"),
        Binding("home", "jump(0)", "Start"),
        Binding("end", "jump(1)", "End"),
        Binding("plus,equals_sign", "speed(1)", "Faster"),
        Binding("minus", "speed(-1)", "Slower"),
    ]

    def __init__(self, recording: Recording, size: tuple[int, int] = PANE_SIZE) -> None:
        super().__init__()
        self.recording = recording
        self.frames = recording.frames
        self.times = [f.at for f in self.frames]
        self.vscreen = VirtualScreen(*size)
        self.fed = 0  # frames fed to the virtual screen
        self.position = 0.0  # seconds into the recording
        self.speed = 1.0
        self.playing = False
        self.started: tuple[float, float] | None = None  # (monotonic, position) at play
        self.timer: Timer | None = None

    def compose(self) -> ComposeResult:
        a = self.recording.attempt
        title = f" Replay · {a.task_id} attempt {a.number} on {a.agent}"
        with Vertical(id="replay"):
            yield Label(title, id="dialog-title", markup=False)
            yield TerminalView(self.vscreen, id="replay-view")
            yield Label("", id="replay-status", markup=False)

    def on_mount(self) -> None:
        self.timer = self.set_interval(1 / FPS, self.tick, pause=True)
        self.play(True)

    @property
    def end(self) -> float:
        return self.recording.duration

    def play(self, on: bool) -> None:
        """Start or stop the clock (at the end, play starts over)."""
        if on and self.position >= self.end:
            self.seek_to(0.0)
        self.playing = on and bool(self.frames)
        self.started = (time.monotonic(), self.position) if self.playing else None
        if self.timer is not None:
            if self.playing:
                self.timer.resume()
            else:
                self.timer.pause()
        self.show()

    def tick(self) -> None:
        if self.started is None:
            return
        at, base = self.started
        self.advance(min(self.end, base + (time.monotonic() - at) * self.speed))
        if self.position >= self.end:
            self.play(False)
        self.show()

    def advance(self, position: float) -> None:
        """Feed the frames due by `position` (from the start again when going back)."""
        if position < self.position:
            self.vscreen.reset()
            self.fed = 0
        self.position = position
        due = bisect_right(self.times, position)
        for frame in self.frames[self.fed : due]:
            self.vscreen.feed(frame.text.encode("utf-8"))
        self.fed = max(self.fed, due)

    def seek_to(self, position: float) -> None:
        self.advance(max(0.0, min(self.end, position)))
        if self.playing:
            self.started = (time.monotonic(), self.position)

    def show(self) -> None:
        state = "▶" if self.playing else "❚❚"
        if not self.playing and self.position >= self.end:
            state = "■"
        note = "" if self.recording.timed else " (no times kept)"
        self.query_one("#replay-status", Label).update(
            f" {state} {_clock(self.position)} / {_clock(self.end)} ×{self.speed:g}{note}  "
            "space play · ←/→ seek · home/end · +/- speed · esc"
        )
        self.query_one(TerminalView).refresh()

    def action_play_pause(self) -> None:
        self.play(not self.playing)

    def action_seek(self, direction: int) -> None:
        self.seek_to(self.position + direction * SEEK)
        self.show()

    def action_jump(self, to_end: int) -> None:
        self.seek_to(self.end if to_end else 0.0)
        if to_end:
            self.play(False)
        self.show()

    def action_speed(self, step: int) -> None:
        i = SPEEDS.index(self.speed) if self.speed in SPEEDS else SPEEDS.index(1.0)
        self.speed = SPEEDS[max(0, min(len(SPEEDS) - 1, i + step))]
        if self.playing:
            self.started = (time.monotonic(), self.position)
        self.show()

    def action_close(self) -> None:
        self.dismiss(None)
