"""aider's signals: `--notifications-command` (aider waits for input) and `--analytics-log FILE`
(a message sent, its reply with tokens and cost, exit), both given per process.

The log goes to the state dir's signals directory and is written with `--no-analytics` too
(measured, 0.86.2): nothing is sent anywhere. aider runs the notifications command through the
shell when it waits for input, idle or at a y/n question alike: the screen tells which.
Measured lines: tests/fakes/signals/aider-0.86.2/.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from overseer.agents.clis import CLIS
from overseer.agents.signals import Ev, InjectContext, Injection, OwnSignals, Signal
from overseer.agents.usage import aider_analytics_usage
from overseer.state.paths import file_stem

NOTIFICATION = "notification"  # the event name the hook entry point is given
USER_COMMAND = "AIDER_NOTIFICATIONS_COMMAND"  # the user's own command, kept after ours
EVENTS = {
    "launched": Ev.SESSION_START,
    "message_send_starting": Ev.PROMPT,
    "exit": Ev.SESSION_END,
}
OLD_LINE = 2.0  # a line whose own time is older than this by its reading was read late


def analytics_log(ctx: InjectContext) -> Path:
    """The agent's analytics log, private in the signals directory."""
    return ctx.signals_dir / f"{file_stem(ctx.agent)}.aider-analytics.jsonl"


class Aider(OwnSignals):
    """aider (`aider`)."""

    kind = "aider"

    def inject(self, ctx: InjectContext) -> Injection:
        command = shlex.join([*ctx.hook_command, NOTIFICATION])
        theirs = ctx.env.get(USER_COMMAND, "").strip()
        if theirs:
            command = f"{command}; {theirs}"
        return Injection(
            args=(
                "--notifications",
                "--notifications-command",
                command,
                "--analytics-log",
                str(analytics_log(ctx)),
            ),
            tail=(analytics_log(ctx),),
        )

    def hook(self, event: str, payload: Mapping[str, Any], at: float) -> Signal | None:
        if event != NOTIFICATION:
            return None
        return Signal(Ev.NOTIFICATION, NOTIFICATION, "notify", at, "waiting for input")

    def line(self, path: Path, record: Mapping[str, Any], at: float) -> Signal | None:
        name = record.get("event")
        if not isinstance(name, str):
            return None
        written = record.get("time")
        # Its time is whole seconds: the reading time is closer, unless the line is old.
        when = (
            float(written) if isinstance(written, int | float) and written < at - OLD_LINE else at
        )
        if name in EVENTS:
            return Signal(EVENTS[name], name, "analytics", when)
        if name == "message_send":
            usage = aider_analytics_usage(record)
            detail = "" if usage is None else f"{usage.input_tokens}+{usage.output_tokens} tokens"
            return Signal(Ev.TURN_END, name, "analytics", when, detail, usage)
        return None


CLI = Aider()
CLIS[CLI.kind] = CLI
