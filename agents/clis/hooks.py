"""What the hook-based CLIs (Claude Code, Gemini CLI) share: their hooks settings, and how a
payload's common fields become a `Signal`."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from overseer.agents.signals import Ev, Signal
from overseer.state.models import Usage

KEPT = ("session_id", "transcript_path", "model", "source", "notification_type", "error", "reason")


def settings_hooks(events: Sequence[str], hook_command: Sequence[str]) -> dict[str, Any]:
    """A settings `hooks` object running the entry point on each event (its name appended)."""
    return {
        event: [
            {
                "matcher": "*",
                "hooks": [
                    {
                        "type": "command",
                        "name": "overseer",  # Gemini shows it as "Executing Hook: overseer"
                        "command": shlex.join([*hook_command, event]),
                    }
                ],
            }
        ]
        for event in events
    }


def signal(event: Ev, name: str, payload: Mapping[str, Any], at: float, detail: str = "") -> Signal:
    """A hook's signal with the payload's short identifying fields as its data."""
    data = {k: payload[k] for k in KEPT if isinstance(payload.get(k), str)}
    return Signal(event, name, "hook", at, detail[:300], None, data)


def tool_detail(payload: Mapping[str, Any]) -> str:
    """`Tool: command` of a tool payload."""
    tool = str(payload.get("tool_name") or "tool")
    args = payload.get("tool_input")
    if isinstance(args, Mapping):
        what = args.get("command") or args.get("file_path") or args.get("description") or ""
        if what:
            return f"{tool}: {' '.join(str(what).split())}"
    return tool


def usage_line(usage: Usage | None, record: Mapping[str, Any], at: float) -> Signal | None:
    """A tailed line that carries tokens or cost (parsed by agents/usage.py), as a signal."""
    if usage is None:
        return None
    return Signal(Ev.USAGE, str(record.get("type") or "usage"), "session", at, "", usage)
