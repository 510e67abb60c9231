"""Gemini CLI's signals: hooks in a system settings file given per process with
GEMINI_CLI_SYSTEM_SETTINGS_PATH.

Gemini skips that file unless it and every directory above it belong to root and are not
group/other-writable (measured, 0.61): where that cannot hold the injection says so
(`degraded`) and the agent is read from its screen. The machine's own system settings are
copied into it, so their hooks keep running. Payloads: tests/fakes/signals/gemini-0.61.0/.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from overseer.agents.clis import CLIS, hooks
from overseer.agents.signals import Ev, InjectContext, Injection, OwnSignals, Signal
from overseer.agents.usage import gemini_session_usage
from overseer.state.paths import file_stem

ENV = "GEMINI_CLI_SYSTEM_SETTINGS_PATH"
SYSTEM_SETTINGS = Path("/etc/gemini-cli/settings.json")
EVENTS = (
    "SessionStart",
    "BeforeAgent",
    "AfterAgent",
    "BeforeTool",
    "AfterTool",
    "Notification",
    "SessionEnd",
)
SIMPLE = {
    "SessionStart": Ev.SESSION_START,
    "AfterAgent": Ev.TURN_END,
    "SessionEnd": Ev.SESSION_END,
}
REFUSED = "Skipping system settings file"  # Gemini's warning when it refuses the file


def insecure(path: Path) -> str | None:
    """Why Gemini would refuse a system settings file at `path` (None: it accepts it)."""
    for place in (path, *path.parents):
        try:
            st = os.stat(place)
        except OSError:
            if place == path:
                continue  # written just before start
            return f"{place} cannot be read"
        if st.st_uid != 0:
            return f"{place} is not owned by root (Gemini reads hooks only from such a file)"
        if stat.S_IMODE(st.st_mode) & 0o022:
            return f"{place} is writable by group or others (Gemini refuses files under it)"
    return None


def system_settings(env: Mapping[str, str]) -> tuple[dict[str, Any], str | None]:
    """The machine's system settings to keep (the user's own path first), or why not."""
    source = Path(env.get(ENV) or SYSTEM_SETTINGS)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        return {}, f"cannot read {source}: {exc.strerror}"
    try:
        data = json.loads(text)
    except ValueError:
        return {}, f"cannot copy {source} (not plain JSON): its hooks would be lost"
    if not isinstance(data, dict):
        return {}, f"cannot copy {source} (not a JSON object)"
    return data, None


class Gemini(OwnSignals):
    """Gemini CLI (`gemini`)."""

    kind = "gemini"
    refused = REFUSED  # on screen: the injected settings were not taken (the driver checks)

    def inject(self, ctx: InjectContext) -> Injection:
        path = ctx.signals_dir / f"{file_stem(ctx.agent)}.gemini-settings.json"
        why = insecure(path)
        settings, problem = system_settings(ctx.env)
        why = why or problem
        if why is not None:
            return Injection(degraded=f"Gemini hooks not injected: {why}")
        merged = dict(settings)
        theirs = merged.get("hooks")
        own: dict[str, Any] = theirs if isinstance(theirs, dict) else {}
        ours = hooks.settings_hooks(EVENTS, ctx.hook_command)
        merged["hooks"] = {
            **own,
            **{e: [*own.get(e, []), *ours[e]] for e in EVENTS},
        }
        return Injection(env={ENV: str(path)}, files={path: json.dumps(merged, indent=2)})

    def hook(self, event: str, payload: Mapping[str, Any], at: float) -> Signal | None:
        if event in SIMPLE:
            return hooks.signal(SIMPLE[event], event, payload, at)
        if event == "BeforeAgent":
            return hooks.signal(Ev.PROMPT, event, payload, at, str(payload.get("prompt") or ""))
        if event in ("BeforeTool", "AfterTool"):
            return hooks.signal(Ev.TOOL, event, payload, at, hooks.tool_detail(payload))
        if event == "Notification":
            asks = payload.get("notification_type") == "ToolPermission"
            details = payload.get("details")
            what = details.get("command") if isinstance(details, Mapping) else None
            return hooks.signal(
                Ev.PERMISSION if asks else Ev.NOTIFICATION,
                event,
                payload,
                at,
                str(what or payload.get("message") or ""),
            )
        return None

    def line(self, path: Path, record: Mapping[str, Any], at: float) -> Signal | None:
        # The session file (the hooks' transcript_path): gemini messages carry tokens.
        return hooks.usage_line(gemini_session_usage(record), record, at)


CLI = Gemini()
CLIS[CLI.kind] = CLI
