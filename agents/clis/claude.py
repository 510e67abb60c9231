"""Claude Code's signals: hooks given per process with `claude --settings FILE`.

The file lives in the state dir's private signals directory; Claude merges its hook lists
with the user's own settings, so the user's hooks keep running. Measured payloads:
tests/fakes/signals/claude-2.1.197/.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from overseer.agents.clis import CLIS, hooks
from overseer.agents.signals import Ev, InjectContext, Injection, OwnSignals, Signal
from overseer.agents.usage import claude_transcript_usage
from overseer.state.paths import file_stem

EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PermissionRequest",
    "PostToolUse",
    "Notification",
    "Stop",
    "StopFailure",
    "SessionEnd",
)
ASKS = frozenset({"AskUserQuestion", "ExitPlanMode"})  # a "tool" that is a question to a person
SIMPLE = {
    "SessionStart": Ev.SESSION_START,
    "PostToolUse": Ev.TOOL,
    "Stop": Ev.TURN_END,
    "SessionEnd": Ev.SESSION_END,
}


class Claude(OwnSignals):
    """Claude Code (`claude`)."""

    kind = "claude"

    def inject(self, ctx: InjectContext) -> Injection:
        path = ctx.signals_dir / f"{file_stem(ctx.agent)}.claude-settings.json"
        settings = {"hooks": hooks.settings_hooks(EVENTS, ctx.hook_command)}
        return Injection(
            args=("--settings", str(path)), files={path: json.dumps(settings, indent=2)}
        )

    def hook(self, event: str, payload: Mapping[str, Any], at: float) -> Signal | None:
        if event in SIMPLE:
            return hooks.signal(SIMPLE[event], event, payload, at)
        if event == "UserPromptSubmit":
            return hooks.signal(Ev.PROMPT, event, payload, at, str(payload.get("prompt") or ""))
        if event == "PreToolUse":
            ask = payload.get("tool_name") in ASKS
            return hooks.signal(
                Ev.PERMISSION if ask else Ev.TOOL, event, payload, at, hooks.tool_detail(payload)
            )
        if event == "PermissionRequest":
            return hooks.signal(Ev.PERMISSION, event, payload, at, hooks.tool_detail(payload))
        if event == "Notification":
            asks = payload.get("notification_type") == "permission_prompt"
            return hooks.signal(
                Ev.PERMISSION if asks else Ev.NOTIFICATION,
                event,
                payload,
                at,
                str(payload.get("message") or ""),
            )
        if event == "StopFailure":
            error = str(payload.get("error") or "error")
            said = str(payload.get("last_assistant_message") or "")
            return hooks.signal(Ev.TURN_FAILED, event, payload, at, f"{error}: {said}".strip())
        return None

    def line(self, path: Path, record: Mapping[str, Any], at: float) -> Signal | None:
        # The transcript (the hooks' transcript_path): assistant messages carry usage.
        return hooks.usage_line(claude_transcript_usage(record), record, at)


CLI = Claude()
CLIS[CLI.kind] = CLI
