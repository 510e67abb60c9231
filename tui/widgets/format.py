"""Formatting helpers: durations, sizes, state words with symbols and colours."""

from __future__ import annotations

from rich.text import Text
from textual.theme import Theme

# Re-exported: `overseer status` uses them without importing Textual.
from overseer.tui.durations import coarse_age as coarse_age
from overseer.tui.durations import countdown as countdown
from overseer.tui.durations import duration as duration

AGENT_SYMBOLS = {
    "starting": "…",
    "idle": "○",
    "busy": "●",
    "waiting": "?",
    "stalled": "!",
    "paused": "‖",
    "dead": "✗",
    "unknown": "~",
}
TASK_SYMBOLS = {
    "pending": "·",
    "ready": "○",
    "running": "▶",
    "done": "✓",
    "failed": "✗",
    "blocked": "■",
}
SPARK = "▁▂▃▄▅▆▇█"
NARROW = 110  # columns: below this the dashboard shows one column at a time


def palette(theme: Theme | None) -> dict[str, str]:
    """Colours for state words, taken from the current theme."""
    t = theme
    ok = (t.success if t else None) or "green"
    warn = (t.warning if t else None) or "yellow"
    err = (t.error if t else None) or "red"
    primary = (t.primary if t else None) or "blue"
    accent = (t.accent if t else None) or "magenta"
    dim = (t.secondary if t else None) or "grey50"
    return {
        "starting": dim,
        "idle": ok,
        "busy": primary,
        "waiting": accent,
        "stalled": warn,
        "paused": warn,
        "dead": err,
        "unknown": dim,
        "pending": dim,
        "ready": primary,
        "running": primary,
        "done": ok,
        "failed": err,
        "blocked": warn,
        "ok": ok,
        "warn": warn,
        "err": err,
        "accent": accent,
        "dim": dim,
    }


def state_text(state: str, pal: dict[str, str], symbols: dict[str, str]) -> Text:
    """A state as symbol + word in its colour (reads without colour too)."""
    return Text(f"{symbols.get(state, '?')} {state}", style=f"bold {pal.get(state, '')}".strip())


def size(n: int | None) -> str:
    """Bytes as KiB/MiB/GiB."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "K", "M", "G"):
        if value < 1024 or unit == "G":
            return f"{value:.0f}{unit}" if unit in ("B", "K") else f"{value:.1f}{unit}"
        value /= 1024
    return f"{n}B"


# Seconds: a heartbeat younger than this is shown as fresh, not counted. A resting fleet's
# supervisor writes heartbeats every 5 s (busy agents' every second): twice that period.
BEAT_FRESH = 10.0


def beat_age(age: float, warn: float = BEAT_FRESH) -> str:
    """A heartbeat's age: `<10s` while fresh (under BEAT_FRESH and warn), then counted."""
    fresh = min(BEAT_FRESH, warn)
    return f"<{fresh:g}s" if age < fresh else coarse_age(age)


def age_label(age: float | None, warn: float, alert: float) -> str:
    """A heartbeat age as the agents table shows it: `<10s` while fresh, marked past warn/alert.

    A live agent's heartbeat is written every second, so its age flickers between 0s and 2s:
    counting that changed every agent's row each second for nothing (the detail panel's
    title gives the exact age). From BEAT_FRESH (or the warn threshold, if lower) it counts.
    """
    if age is None:
        return "-"
    if age < min(BEAT_FRESH, warn):
        return beat_age(age, warn)
    return coarse_age(age) + (" !!" if age >= alert else " !" if age >= warn else "")


def age_text(age: float | None, warn: float, alert: float, pal: dict[str, str]) -> Text:
    """age_label coloured against the warn/alert thresholds."""
    if age is None:
        return Text("-", style=pal["dim"])
    style = pal["err"] if age >= alert else pal["warn"] if age >= warn else ""
    return Text(age_label(age, warn, alert), style=style)


def sparkline(values: list[int]) -> str:
    """Unicode block sparkline, scaled to the largest value."""
    top = max(values) if values else 0
    if top <= 0:
        return SPARK[0] * len(values)
    return "".join(SPARK[min(len(SPARK) - 1, round(v * (len(SPARK) - 1) / top))] for v in values)


def clip(text: str, width: int) -> str:
    """One line of at most `width` characters."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: max(0, width - 1)] + "…"


def literal(text: str) -> str:
    """Text that Textual's content markup shows exactly as written (for palette titles).

    Textual's own `escape` skips `[K]` (upper case), which then vanishes as a style tag.
    """
    return text.replace("[", "\\[")
