"""Codex CLI's signals: `-c notify=[...]` (a turn completed) and the session rollout file
(`$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl`: turns started, completed or aborted, tools,
token counts).

Codex hooks given with `-c hooks...` are not used: Codex runs them only once trusted and shows a
"hooks need review" screen instead (measured, 0.171). The user's config.toml is only read, never
written: a `notify` program of theirs keeps running after ours. Every Codex session of the user
writes below the same sessions directory, so an agent keeps only the sessions started in its
work dir after it was spawned (`Sessions`). Measured payloads: tests/fakes/signals/codex-0.171.0/.
"""

from __future__ import annotations

import json
import os
import shlex
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from overseer.agents.clis import CLIS
from overseer.agents.signals import Ev, InjectContext, Injection, Signal
from overseer.agents.usage import codex_token_count
from overseer.state.redact import mask

NOTIFY = "notify"  # the event name the hook entry point is given
TITLE_PROMPT = "Generate a concise, single-line task title"  # Codex's own side thread (0.171)
TOOL_ITEMS = frozenset({"function_call", "custom_tool_call", "local_shell_call"})
TOOL_OUTPUTS = frozenset({"function_call_output", "custom_tool_call_output"})  # it ran: busy again
TOOL_EVENTS = frozenset(
    {"exec_command_begin", "patch_apply_begin", "mcp_tool_call_begin", "web_search_begin"}
)
# Not written to the rollout by 0.171 (measured); older and later versions may.
APPROVAL_EVENTS = frozenset(
    {"exec_approval_request", "apply_patch_approval_request", "elicitation_request"}
)
ASKING_POLICIES = frozenset({"on-request", "untrusted", "on-failure"})
START_SLACK = 2.0  # a session may say it started this long before the agent's spawn time
MEMO = 256  # rollouts whose model and approval policy are remembered


def codex_home(env: Mapping[str, str]) -> Path:
    """Where Codex keeps its files for a process with this environment."""
    home = env.get("CODEX_HOME")
    if home:
        return Path(home)
    return Path(env.get("HOME") or Path.home()) / ".codex"


def user_notify(home: Path) -> list[str] | None:
    """The `notify` program of the user's own config.toml (None: none, or unreadable)."""
    try:
        config = tomllib.loads((home / "config.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    notify = config.get("notify")
    if isinstance(notify, list) and notify and all(isinstance(a, str) for a in notify):
        return notify
    return None


def toml_array(argv: Sequence[str]) -> str:
    """argv as a TOML array of basic strings (JSON's escapes are TOML's for these)."""
    return "[" + ", ".join(json.dumps(a, ensure_ascii=False) for a in argv) + "]"


def notify_argv(hook: Sequence[str], theirs: Sequence[str] | None) -> list[str]:
    """The notify program: the hook entry point, then the user's own program if they have one.

    Codex appends its JSON as the last argument; `sh -c` passes it on to both as "$1".
    """
    ours = [*hook, NOTIFY]
    if not theirs:
        return ours
    script = f'{shlex.join(ours)} "$1"; exec {shlex.join(theirs)} "$1"'
    return ["sh", "-c", script, "sh"]


def epoch(stamp: Any) -> float | None:
    """An ISO timestamp as Codex writes it ("2026-12-01T14:40:54.089Z") in epoch seconds."""
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except (ValueError, OverflowError):
        return None


def thread_of(path: Path) -> str:
    """The thread id in a rollout's name (rollout-<timestamp>-<thread id>.jsonl)."""
    stem = path.name.removesuffix(".jsonl")
    parts = stem.split("-")
    return "-".join(parts[-5:]) if len(parts) >= 7 else stem


@dataclass
class _Rollout:
    """One rollout file: its thread, and its latest turn's model and approval policy."""

    thread: str
    model: str | None = None
    policy: str | None = None


def _short(text: Any, limit: int = 200) -> str:
    """One line of at most limit characters, secrets masked (it is shown and stored)."""
    return mask(" ".join(str(text or "").split())[:limit])


class Codex:
    """Codex CLI (`codex`)."""

    kind = "codex"

    def __init__(self) -> None:
        # Per rollout file: its thread, and the model and approval policy of its latest turn.
        self._rollouts: dict[Path, _Rollout] = {}

    def inject(self, ctx: InjectContext) -> Injection:
        home = codex_home(ctx.env)
        argv = notify_argv(ctx.hook_command, user_notify(home))
        return Injection(args=("-c", f"notify={toml_array(argv)}"), tail=(home / "sessions",))

    def hook(self, event: str, payload: Mapping[str, Any], at: float) -> Signal | None:
        if event != NOTIFY or payload.get("type") != "agent-turn-complete":
            return None
        prompts = payload.get("input-messages")
        first = prompts[0] if isinstance(prompts, list) and prompts else ""
        if isinstance(first, str) and first.startswith(TITLE_PROMPT):
            return None  # the title Codex makes for itself: not the agent's turn
        data = {
            "thread_id": str(payload.get("thread-id") or ""),
            "turn_id": str(payload.get("turn-id") or ""),
            "cwd": str(payload.get("cwd") or ""),
        }
        detail = _short(payload.get("last-assistant-message"))
        return Signal(Ev.TURN_END, "agent-turn-complete", "notify", at, detail, None, data)

    def line(self, path: Path, record: Mapping[str, Any], at: float) -> Signal | None:
        payload = record.get("payload")
        if not isinstance(payload, Mapping):
            return None
        kind = record.get("type")
        when = epoch(record.get("timestamp")) or at
        rollout = self._rollout(path)
        if kind == "session_meta":
            return self._session(rollout, payload, when)
        if kind == "turn_context":
            model, policy = payload.get("model"), payload.get("approval_policy")
            rollout.model = model if isinstance(model, str) else None
            rollout.policy = policy if isinstance(policy, str) else None
            return None
        data: dict[str, Any] = {"thread_id": rollout.thread}
        what = payload.get("type")
        if kind == "response_item" and what in TOOL_ITEMS:
            return self._tool_call(rollout, payload, when, data)
        if kind == "response_item" and what in TOOL_OUTPUTS:
            return Signal(Ev.TOOL, str(what), "rollout", when, "", None, data)
        if kind != "event_msg":
            return None
        if isinstance(payload.get("turn_id"), str):
            data["turn_id"] = payload["turn_id"]
        if what == "task_started":
            return Signal(Ev.PROMPT, "task_started", "rollout", when, "", None, data)
        if what == "task_complete":
            error = payload.get("error")
            if isinstance(error, Mapping):
                detail = _short(error.get("message") or "error")
                return Signal(Ev.TURN_FAILED, "task_complete", "rollout", when, detail, None, data)
            detail = _short(payload.get("last_agent_message"))
            return Signal(Ev.TURN_END, "task_complete", "rollout", when, detail, None, data)
        if what == "turn_aborted":
            return Signal(Ev.TURN_END, "turn_aborted", "rollout", when, "aborted", None, data)
        if what == "token_count":
            usage = codex_token_count(record, rollout.model, rollout.thread)
            if usage is None:
                return None  # rate limits only
            return Signal(Ev.USAGE, "token_count", "rollout", when, "", usage, data)
        if what in TOOL_EVENTS:
            return Signal(Ev.TOOL, str(what), "rollout", when, _command(payload), None, data)
        if what in APPROVAL_EVENTS:
            detail = _command(payload)
            return Signal(Ev.PERMISSION, str(what), "rollout", when, detail, None, data)
        return None

    def _rollout(self, path: Path) -> _Rollout:
        """What is known of one rollout file (a bounded number of them is remembered)."""
        rollout = self._rollouts.get(path)
        if rollout is None:
            rollout = self._rollouts[path] = _Rollout(thread_of(path))
            while len(self._rollouts) > MEMO:
                del self._rollouts[next(iter(self._rollouts))]
        return rollout

    def _session(self, rollout: _Rollout, payload: Mapping[str, Any], when: float) -> Signal:
        """session_meta: the CLI's version and the session's thread, work dir and start."""
        thread = payload.get("id") or payload.get("session_id")
        if isinstance(thread, str) and thread:
            rollout.thread = thread
        version = str(payload.get("cli_version") or "")
        data = dict(
            thread_id=rollout.thread,
            session_id=rollout.thread,
            version=version,
            cwd=str(payload.get("cwd") or ""),
            started=epoch(payload.get("timestamp")) or when,
            originator=str(payload.get("originator") or ""),
            thread_source=str(payload.get("thread_source") or ""),
        )
        return Signal(Ev.SESSION_START, "session_meta", "rollout", when, version, None, data)

    def _tool_call(
        self, rollout: _Rollout, payload: Mapping[str, Any], when: float, data: dict[str, Any]
    ) -> Signal:
        """A tool call; one that asks for escalated permissions opens Codex's approval dialog
        when the turn's approval policy asks (0.171 writes no approval request itself)."""
        args: Any = payload.get("arguments")
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except ValueError:
                args = {}
        args = args if isinstance(args, Mapping) else {}
        name = str(payload.get("name") or payload.get("type"))
        command = args.get("cmd") or args.get("command") or ""
        if isinstance(command, list):
            command = shlex.join(str(c) for c in command)
        detail = f"{name}: {_short(command)}" if command else name
        asks = rollout.policy in ASKING_POLICIES
        if args.get("sandbox_permissions") == "require_escalated" and asks:
            return Signal(Ev.PERMISSION, name, "rollout", when, detail, None, data)
        return Signal(Ev.TOOL, name, "rollout", when, detail, None, data)

    def owner(self, work_dir: Path | None, since: float) -> Callable[[Signal], bool]:
        """Only the agent's own sessions: Codex writes every session below one directory."""
        return Sessions(work_dir, since).keep


def _command(payload: Mapping[str, Any]) -> str:
    """The command of an exec event (a list or a string)."""
    command = payload.get("command") or payload.get("call_id") or ""
    if isinstance(command, list):
        return _short(shlex.join(str(c) for c in command))
    return _short(command)


class Sessions:
    """Which Codex sessions are one agent's: started in its work dir after it was spawned.

    Every Codex of the user writes below the same sessions directory and notify also fires for
    the title thread Codex starts beside each session: a rollout signal is kept only when its
    session_meta matched (a user thread, the agent's work dir, started after its spawn). Two
    agents sharing one work dir cannot be told apart.
    """

    def __init__(self, work_dir: Path | None, since: float) -> None:
        self.work_dir = os.path.realpath(work_dir) if work_dir is not None else None
        self.since = since
        self.threads: set[str] = set()

    def keep(self, signal: Signal) -> bool:
        """Whether a signal of this CLI belongs to the agent."""
        thread = signal.data.get("thread_id")
        if signal.event == Ev.SESSION_START and signal.source == "rollout":
            cwd = str(signal.data.get("cwd") or "")
            started = signal.data.get("started")
            mine = (
                (self.work_dir is None or os.path.realpath(cwd) == self.work_dir)
                and isinstance(started, int | float)
                and started >= self.since - START_SLACK
                # A thread Codex starts for itself (a sub-agent) ends turns of its own.
                and signal.data.get("thread_source") in ("", "user", None)
            )
            if mine and isinstance(thread, str):
                self.threads.add(thread)
            return mine
        if not thread:
            return True  # nothing to tell it by (not a Codex signal)
        if signal.source == "notify":
            # notify runs in the agent's own process: only a side thread (the title) is foreign,
            # and before the rollout was read hook() has already dropped that one by its prompt.
            return not self.threads or thread in self.threads
        return thread in self.threads


CLI = Codex()
CLIS[CLI.kind] = CLI
