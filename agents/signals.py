"""What the AI CLIs report about themselves (hooks, session and rollout files, analytics logs),
in one vocabulary the prompt driver decides an agent's state from.

Each CLI has a module under agents/clis/ with a `CliSignals`: how its signals are injected into
one process (never the user's own config files) and how its payloads and file lines become
`Signal`s. The screen stays for what no signal reports (see agents/drivers/prompt.py).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from overseer.state.models import Usage


class Ev(enum.StrEnum):
    """A CLI's event, named once for every CLI."""

    SESSION_START = "session-start"  # the CLI is up (SessionStart; a rollout's session_meta)
    PROMPT = "prompt-submitted"  # a turn began (UserPromptSubmit, BeforeAgent, task_started)
    TOOL = "tool"  # a tool runs or ran (PreToolUse, PostToolUse, BeforeTool, AfterTool)
    PERMISSION = "permission"  # it waits for a person to allow something (PermissionRequest)
    NOTIFICATION = "notification"  # it asks for attention (Notification; aider's notify command)
    TURN_END = "turn-end"  # the turn is over, the CLI is at its input box (Stop, AfterAgent)
    TURN_FAILED = "turn-failed"  # the turn ended with an error (StopFailure: rate limit, auth)
    SESSION_END = "session-end"  # the CLI is leaving (SessionEnd)
    USAGE = "usage"  # tokens or cost only (token_count, message_send, statusLine)


@dataclass(frozen=True)
class Signal:
    """One thing a CLI said about itself."""

    event: Ev
    name: str  # the CLI's own name for it ("PreToolUse", "task_complete", "message_send")
    source: str  # where it came from: "hook", "rollout", "session", "analytics", "notify"
    at: float  # when it was written (epoch seconds)
    detail: str = ""  # short and masked: a tool, a prompt's head, an error
    usage: Usage | None = None  # tokens/cost it carries (cumulative where the CLI counts so)
    data: Mapping[str, Any] = field(default_factory=dict)  # session_id, transcript_path, ...


@dataclass(frozen=True)
class InjectContext:
    """What a CLI's injection may use: who the agent is and where its private files go."""

    agent: str
    state_dir: Path
    signals_dir: Path  # private, under the state dir: settings files and the hook spool
    hook_command: tuple[str, ...]  # argv of the tiny hook entry point; append EVENT
    work_dir: Path | None
    env: Mapping[str, str]  # the environment the CLI will get (HOME, CODEX_HOME, ...)


@dataclass(frozen=True)
class Injection:
    """How one process of a CLI is made to report: added arguments, environment and files."""

    args: tuple[str, ...] = ()  # appended to the CLI's command line
    env: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[Path, str] = field(default_factory=dict)  # written privately before start
    tail: tuple[Path, ...] = ()  # files or directories whose new lines are signals (tail())
    degraded: str | None = None  # why some signal cannot be injected (shown by health)


class CliSignals(Protocol):
    """One CLI's signals: injection, hook payloads, tailed file lines."""

    kind: str  # the agent kind ("claude", "codex", "gemini", "aider")

    def inject(self, ctx: InjectContext) -> Injection:
        """The arguments, environment and files that make one process report."""
        ...

    def hook(self, event: str, payload: Mapping[str, Any], at: float) -> Signal | None:
        """A hook's payload (`event` as named in the injected command) as a signal."""
        ...

    def line(self, path: Path, record: Mapping[str, Any], at: float) -> Signal | None:
        """One JSON line of a tailed file (rollout, session, analytics) as a signal."""
        ...

    def owner(self, work_dir: Path | None, since: float) -> Callable[[Signal], bool] | None:
        """A filter that keeps only the signals of the agent's own process started at `since`
        (files shared by every session of the user); None: all of them are its own."""
        ...


class OwnSignals:
    """A CLI whose hooks and files belong to the one process they were injected into."""

    def owner(self, work_dir: Path | None, since: float) -> None:
        """Every signal is the agent's own."""
        return None
