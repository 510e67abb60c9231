"""Durations and countdowns as the dashboard and `overseer status` print them (no Textual)."""

from __future__ import annotations


def duration(seconds: float | None) -> str:
    """Compact durations: 0.4s, 12s, 3m05s, 1h02m."""
    if seconds is None:
        return "-"
    s = max(0.0, seconds)
    if s < 10:
        return f"{s:.1f}s"
    if s < 60:
        return f"{s:.0f}s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"


def coarse_age(seconds: float | None) -> str:
    """Ages in the dashboard's ticking columns: whole seconds under a minute, then minutes
    (12s, 3m, 1h02m). A finer age changes on every read, and one changed cell makes the table
    redraw every visible row: a fleet at rest would cost a re-render every second."""
    if seconds is None:
        return "-"
    s = max(0.0, seconds)
    if s < 60:
        return f"{s:.0f}s"
    if s < 3600:
        return f"{int(s // 60)}m"
    return duration(s)


def countdown(seconds: float | None) -> str:
    """Time left (or 'now' / overdue with a minus sign)."""
    if seconds is None:
        return ""
    if seconds < 0:
        return "-" + duration(-seconds)
    return duration(seconds)
