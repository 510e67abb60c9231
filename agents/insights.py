"""Next-action suggestions: small pure rules over a snapshot of the store.

Each rule reads a `Snapshot` (tasks, their attempt histories, agents, disk figures) and
yields `Suggestion`s. `suggest()` runs them all, masks secrets, keeps one suggestion per
target and action, and ranks by urgency x confidence with stable tie-breaks, so the same
snapshot always gives the same list. `Insights` builds snapshots from a live store and keeps
the stored list (what `overseer status --json`, `overseer suggest` and the dashboard show)
up to date, honouring dismissals.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from overseer.agents.profiles import match_prompt
from overseer.state import queue
from overseer.state.models import (
    SUGGESTION_ACTIONS,
    Agent,
    AgentState,
    Attempt,
    AttemptOutcome,
    Suggestion,
    Task,
    TaskState,
    host_of,
)
from overseer.state.paths import StatePaths, agent_of
from overseer.state.redact import mask
from overseer.state.store import Store

# Appended by the supervisor to a stall's reason when the silent task still used CPU.
CPU_NOTE = "its processes still use CPU"
# Share of a core a silent task's processes must use to count as working, not hung.
CPU_ACTIVE_RATE = 0.05
# A stored heartbeat this fresh, and newer than the last output, means CPU activity.
CPU_WINDOW = 2.5
# A claim must be this old before it counts as orphaned (a claim and the agent's row are
# written a moment apart).
CLAIM_GRACE = 5.0
LEASE_GRACE = 2.0
DISK_FREE_MIN = 1 << 30  # bytes; below this (or DISK_FREE_FRACTION) the disk is nearly full
DISK_FREE_FRACTION = 0.05
LOG_MAX = 256 << 20  # one log this big is huge
LOGS_TOTAL_MAX = 1 << 30
MAX_EVIDENCE = 8
FULL_READ_EVERY = 60.0  # seconds between full reads of the tasks table (changes come between)
WRITE_SLACK = 2.0
QUIET_EVAL = 5.0  # seconds between evaluations of the rules while only the clock moves
MAX_LINE = 200
COMMAND_NOT_FOUND = (126, 127)
KEEP_DONE = 2000  # done tasks (beyond those the rules need) kept between full reads
WORKTREE_TTL = 10.0  # seconds between git status reads of one agent's worktree

FAILING = frozenset(
    {AttemptOutcome.FAILED, AttemptOutcome.TIMEOUT, AttemptOutcome.STALLED, AttemptOutcome.LOST}
)
COUNTED = FAILING | {AttemptOutcome.OK}
DESTRUCTIVE = frozenset({"block", "release", "interrupt", "respawn-agent", "answer"})
HUMAN_ACTIONS = frozenset(
    {"attach", "send-input", "edit-command", "raise-timeout", "fix-upstream", "cleanup"}
)
_ORDER = {action: i for i, action in enumerate(SUGGESTION_ACTIONS)}
_NOT_FOUND_LINE = re.compile(
    r"(?:^|:\s)(?P<word>[^:\n]{1,120}):\s(?:command not found|No such file or directory"
    r"|Permission denied|cannot execute[^\n]*)\s*$",
    re.MULTILINE,
)
_ANSWER_YES = re.compile(r"\(\s*yes\s*/\s*no\s*\)", re.IGNORECASE)


@dataclass(frozen=True)
class Disk:
    """Free and total bytes of the filesystem holding the state dir."""

    path: str
    free: int
    total: int


@dataclass(frozen=True)
class Snapshot:
    """Everything the rules look at, read at one moment."""

    now: float
    tasks: tuple[Task, ...] = ()
    attempts: Mapping[str, tuple[Attempt, ...]] = field(default_factory=dict)
    agents: tuple[Agent, ...] = ()
    stuck: Mapping[str, str] = field(default_factory=dict)  # pending task -> root cause
    stall_timeout: float = 300.0
    supervisor_alive: bool = True
    disk: Disk | None = None
    logs: Mapping[str, int] = field(default_factory=dict)  # agent -> log size in bytes
    # Agents whose processes used CPU during their silence; None: judge by heartbeats.
    cpu_active: frozenset[str] | None = None
    here: str | None = None  # on a shared store: this host (others' CPU is not seen here)
    stopping: frozenset[str] = frozenset()  # agents whose attempt is being stopped
    # Agents with a git worktree: their branch's state (agents.worktree.WorktreeStatus).
    worktrees: Mapping[str, Any] = field(default_factory=dict)
    # What holds dispatch: the breaker's stored state and the budgets (state/budgets.py).
    breaker: Mapping[str, Any] = field(default_factory=dict)
    budgets: tuple[Any, ...] = ()

    @cached_property
    def _tasks_by_id(self) -> dict[str, Task]:
        return {t.id: t for t in self.tasks}

    @cached_property
    def _agents_by_name(self) -> dict[str, Agent]:
        return {a.name: a for a in self.agents}

    def task(self, task_id: str | None) -> Task | None:
        """One task by id."""
        return self._tasks_by_id.get(task_id or "")

    def agent(self, name: str | None) -> Agent | None:
        """One agent by name."""
        return self._agents_by_name.get(name or "")

    @cached_property
    def _histories(self) -> dict[str, tuple[Attempt, ...]]:
        return {
            tid: tuple(a for a in attempts if a.outcome in COUNTED)
            for tid, attempts in self.attempts.items()
        }

    def history(self, task_id: str) -> tuple[Attempt, ...]:
        """The task's attempts that used a try (not released or stale), oldest first."""
        return self._histories.get(task_id, ())

    def uses_cpu(self, agent: Agent) -> bool:
        """Whether a busy agent's processes are using CPU right now."""
        if self.cpu_active is not None and self.here in (None, host_of(agent.name)):
            return agent.name in self.cpu_active
        beat = agent.heartbeat_at
        if beat is None or self.now - beat > CPU_WINDOW:
            return False
        return beat - (agent.last_output_at or 0.0) >= 1.0


Rule = Callable[[Snapshot], Iterator[Suggestion]]


# -- small helpers ------------------------------------------------------------------------


def clock(ts: float | None) -> str:
    """A timestamp as local HH:MM:SS (stable evidence, unlike an age)."""
    if ts is None:
        return "-"
    return time.strftime("%H:%M:%S", time.localtime(ts))


def _cut(text: str, limit: int = MAX_LINE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# What bash prints about a job it killed: noise after the line that matters.
_JOB_NOISE = re.compile(r"\s*(?:\^C|Terminated|Killed|Hangup|Interrupt)\s*$")


def tail_lines(attempt: Attempt, n: int = 2) -> list[str]:
    """The last `n` non-empty lines of an attempt's output (without job-kill notices)."""
    return list(_tail_lines(attempt.output_tail, n))


@lru_cache(maxsize=4096)
def _tail_lines(tail: str, n: int) -> tuple[str, ...]:
    found: list[str] = []
    for line in reversed(tail.splitlines()):
        line = _JOB_NOISE.sub("", line).strip()
        if line:
            found.append(_cut(line, 160))
            if len(found) == n:
                break
    return tuple(reversed(found))


# Evidence repeats from one refresh to the next: mask each distinct line once.
_mask = lru_cache(maxsize=16384)(mask)


def _backing_off(task: Task) -> bool:
    return task.state == TaskState.READY and task.retry_at is not None


def _needs_look(task: Task) -> bool:
    """Failed for good, parked, or about to be retried automatically after a failure."""
    return task.state in (TaskState.FAILED, TaskState.BLOCKED) or _backing_off(task)


def _exit_text(a: Attempt) -> str:
    if a.outcome == AttemptOutcome.LOST:
        return f"lost ({a.reason})" if a.reason else "lost"
    if a.outcome in (AttemptOutcome.TIMEOUT, AttemptOutcome.STALLED):
        return a.reason or a.outcome.value
    text = f"exit {a.exit_code}" if a.exit_code is not None else a.outcome.value
    return text + (f" ({a.reason})" if a.reason else "")


def _attempt_line(a: Attempt, task: Task) -> str:
    return f"attempt {a.number} of {task.max_attempts}: {_exit_text(a)}"


def _state_note(task: Task) -> str:
    if _backing_off(task):
        return "would be retried automatically"
    return "has no tries left" if task.state == TaskState.FAILED else f"is {task.state.value}"


def _urgency_by_state(task: Task, ready: float, failed: float, blocked: float) -> float:
    if _backing_off(task):
        return ready
    return failed if task.state == TaskState.FAILED else blocked


def _s(
    target: dict[str, str],
    action: str,
    reason: str,
    confidence: float,
    urgency: float,
    evidence: Iterable[str],
    rule: str,
    text: str | None = None,
) -> Suggestion:
    return Suggestion(
        target=target,
        action=action,
        reason=reason,
        confidence=round(min(1.0, max(0.0, confidence)), 3),
        urgency=round(min(1.0, max(0.0, urgency)), 3),
        evidence=tuple(evidence),
        rule=rule,
        text=text,
    )


# -- task rules ---------------------------------------------------------------------------


def rule_command_not_found(snap: Snapshot) -> Iterator[Suggestion]:
    """Exit 127/126: the command (or its directory) is missing; a retry cannot help."""
    for task in snap.tasks:
        history = snap.history(task.id)
        if not history or not _needs_look(task):
            continue
        last = history[-1]
        if last.outcome != AttemptOutcome.FAILED or last.exit_code not in COMMAND_NOT_FOUND:
            continue
        matches = list(_NOT_FOUND_LINE.finditer(last.output_tail))
        if matches:
            word = matches[-1].group("word").strip().rsplit(": ", 1)[-1]
            shown = [_cut(m.group(0).strip(": "), 160) for m in matches[-2:]]
        else:
            try:
                words = shlex.split(task.command)
            except ValueError:
                words = task.command.split()
            word = words[0] if words else task.command
            shown = tail_lines(last, 1)
        what = (
            "not found" if last.exit_code == 127 else "not executable, or its directory is missing"
        )
        evidence = [
            f"exit {last.exit_code} on attempt {last.number} of {task.max_attempts}",
            *(f"output: {line}" for line in shown),
            f"command: {_cut(task.command, 120)}",
        ]
        yield _s(
            {"task": task.id},
            "edit-command",
            f"{task.id} exits {last.exit_code}: `{_cut(word, 60)}` is {what}, so a retry will "
            "fail the same way; fix the command, PATH or working directory, then retry it.",
            0.95 if matches else 0.8,
            _urgency_by_state(task, 0.8, 0.6, 0.4),
            evidence,
            "command-not-found",
        )


def rule_same_failure(snap: Snapshot) -> Iterator[Suggestion]:
    """The same exit code on every attempt (two or more): block it with that reason."""
    for task in snap.tasks:
        if task.state != TaskState.FAILED and not _backing_off(task):
            continue
        history = snap.history(task.id)
        if len(history) < 2 or any(a.outcome != AttemptOutcome.FAILED for a in history):
            continue
        codes = {a.exit_code for a in history}
        if len(codes) != 1:
            continue
        (code,) = codes
        if code is None or code in COMMAND_NOT_FOUND:
            continue
        lasts = {tuple(tail_lines(a, 1)) for a in history}
        same_output = len(lasts) == 1 and lasts != {()}
        evidence = [_attempt_line(a, task) for a in history[-4:]]
        if same_output:
            evidence.append(f"same last output each time: {next(iter(lasts))[0]}")
        n = len(history)
        why = f"same failure on all {n} attempts: exit {code}"
        yield _s(
            {"task": task.id},
            "block",
            f"{task.id} failed the same way on all {n} attempts (exit {code}) and "
            f"{_state_note(task)}; block it with that reason until the cause is fixed.",
            0.6 + 0.1 * (n - 2) + (0.15 if same_output else 0.0),
            _urgency_by_state(task, 0.7, 0.35, 0.35),
            evidence,
            "same-failure",
            text=why,
        )


def rule_flaky(snap: Snapshot) -> Iterator[Suggestion]:
    """Failed, then passed on a later attempt: note it as flaky."""
    for task in snap.tasks:
        if task.state != TaskState.DONE:
            continue
        history = snap.history(task.id)
        if len(history) < 2 or history[-1].outcome != AttemptOutcome.OK:
            continue
        failed = [a for a in history[:-1] if a.outcome in FAILING - {AttemptOutcome.LOST}]
        if not failed:
            continue
        first = failed[0]
        yield _s(
            {"task": task.id},
            "edit-command",
            f"{task.id} is flaky: it failed ({_exit_text(first)}) and then passed on attempt "
            f"{history[-1].number}; make it deterministic, or keep retries for it on purpose.",
            0.6,
            0.15,
            [_attempt_line(a, task) for a in history[-4:]],
            "flaky",
        )


def rule_timeout(snap: Snapshot) -> Iterator[Suggestion]:
    """Timed out: at a prompt -> make it non-interactive; otherwise -> raise the timeout."""
    for task in snap.tasks:
        history = snap.history(task.id)
        if not history or not _needs_look(task):
            continue
        last = history[-1]
        if last.outcome != AttemptOutcome.TIMEOUT:
            continue
        lines = tail_lines(last, 1)
        prompt = match_prompt(lines[0]) if lines else None
        limit = f"{task.timeout:g}s" if task.timeout else "its timeout"
        if prompt is not None:
            yield _s(
                {"task": task.id},
                "edit-command",
                f"{task.id} ran out of time waiting at a prompt (“{_cut(prompt.text, 80)}”); "
                "make it non-interactive (e.g. a --yes flag), or answer the prompt while it "
                "waits, then retry it.",
                0.85,
                _urgency_by_state(task, 0.65, 0.6, 0.4),
                [_attempt_line(last, task), f"last output: {prompt.text}", f"timeout {limit}"],
                "timeout-at-prompt",
            )
            continue
        repeated = len(history) > 1 and all(a.outcome == AttemptOutcome.TIMEOUT for a in history)
        times = f" on all {len(history)} attempts" if repeated else ""
        yield _s(
            {"task": task.id},
            "raise-timeout",
            f"{task.id} timed out after {limit}{times}; give it more time, then retry it.",
            0.75 if repeated else 0.55,
            _urgency_by_state(task, 0.6, 0.5, 0.35),
            [
                *(_attempt_line(a, task) for a in history[-3:]),
                *(f"last output: {line}" for line in lines),
            ],
            "timeout",
        )


def rule_stalled_before(snap: Snapshot) -> Iterator[Suggestion]:
    """Stopped as stalled: busy CPU -> raise the stall timeout; idle -> retry it."""
    for task in snap.tasks:
        history = snap.history(task.id)
        if not history or task.state not in (TaskState.FAILED, TaskState.BLOCKED):
            continue
        last = history[-1]
        if last.outcome != AttemptOutcome.STALLED:
            continue
        evidence = [
            _attempt_line(a, task) for a in history[-3:] if a.outcome == AttemptOutcome.STALLED
        ]
        evidence += [f"last output: {line}" for line in tail_lines(last, 1)]
        evidence.append(f"stall_timeout {snap.stall_timeout:g}s")
        if CPU_NOTE in (last.reason or ""):
            yield _s(
                {"task": task.id},
                "raise-timeout",
                f"{task.id} was stopped as stalled while {CPU_NOTE}: it was probably working "
                "quietly; raise stall_timeout or make it print progress, then retry it.",
                0.7,
                _urgency_by_state(task, 0.5, 0.5, 0.5),
                evidence,
                "stalled-busy",
            )
            continue
        stalls = sum(1 for a in history if a.outcome == AttemptOutcome.STALLED)
        yield _s(
            {"task": task.id},
            "retry",
            f"{task.id} went silent with idle processes and was stopped"
            + (f" ({stalls} times)" if stalls > 1 else "")
            + "; it probably hung on something outside (network, a lock, input): retry it.",
            0.55 if stalls == 1 else 0.35,
            0.5,
            evidence,
            "stalled-idle",
        )


def rule_failed(snap: Snapshot) -> Iterator[Suggestion]:
    """A failed task that no more specific rule explains: a retry may pass."""
    for task in snap.tasks:
        if task.state != TaskState.FAILED:
            continue
        history = snap.history(task.id)
        if not history:
            continue
        last = history[-1]
        if last.outcome in (AttemptOutcome.TIMEOUT, AttemptOutcome.STALLED):
            continue
        if last.outcome == AttemptOutcome.FAILED and last.exit_code in COMMAND_NOT_FOUND:
            continue
        failures = [a for a in history if a.outcome == AttemptOutcome.FAILED]
        codes = {a.exit_code for a in failures}
        if len(history) >= 2 and len(failures) == len(history) and len(codes) == 1:
            continue  # the same failure every time: rule_same_failure
        evidence = [_attempt_line(a, task) for a in history[-4:]]
        evidence += [f"last output: {line}" for line in tail_lines(last, 1)]
        if last.outcome == AttemptOutcome.LOST:
            reason = (
                f"{task.id}'s last attempt was lost ({last.reason or 'no status'}), not failed "
                "by the task itself; retry it."
            )
            confidence = 0.7
        elif len(codes) > 1:
            shown = ", ".join(str(c) for c in sorted(codes, key=lambda c: (c is None, c or 0)))
            reason = (
                f"{task.id} failed differently on each attempt (exit {shown}), which points to "
                "a transient cause; retry it."
            )
            confidence = 0.45
        else:
            reason = f"{task.id} failed ({_exit_text(last)}); if the cause was transient, retry it."
            confidence = 0.35
        yield _s({"task": task.id}, "retry", reason, confidence, 0.45, evidence, "failed")


def rule_blocked(snap: Snapshot) -> Iterator[Suggestion]:
    """Blocked by a person without a failure: unblock once the reason is resolved."""
    for task in snap.tasks:
        if task.state != TaskState.BLOCKED:
            continue
        history = snap.history(task.id)
        if history and history[-1].outcome != AttemptOutcome.OK:
            continue  # blocked after a failure: the failure rules speak for it
        yield _s(
            {"task": task.id},
            "unblock",
            f"{task.id} is blocked ({task.blocked_reason or 'no reason given'}); "
            "unblock it once that is resolved.",
            0.35,
            0.2,
            [f"blocked: {task.blocked_reason or '-'}", f"since {clock(task.updated_at)}"],
            "blocked",
        )


def rule_fix_upstream(snap: Snapshot) -> Iterator[Suggestion]:
    """A failed or blocked task that others wait on, ranked by how many it would unblock."""
    waiting: dict[str, list[str]] = {}
    for pending, cause in sorted(snap.stuck.items()):
        waiting.setdefault(cause, []).append(pending)
    for cause, ids in sorted(waiting.items()):
        task = snap.task(cause)
        if task is None or task.state not in (TaskState.FAILED, TaskState.BLOCKED):
            continue
        n = len(ids)
        shown = ", ".join(ids[:6]) + (f" (+{n - 6} more)" if n > 6 else "")
        if task.state == TaskState.BLOCKED:
            status = f"{cause}: blocked ({task.blocked_reason or 'no reason'})"
        else:
            status = f"{cause}: failed (exit {task.exit_code})"
        yield _s(
            {"task": cause},
            "fix-upstream",
            f"{cause} is {task.state.value} and {n} task{'s' if n != 1 else ''} wait"
            f"{'' if n != 1 else 's'} on it; fixing it first unblocks them.",
            0.9,
            # Grows with the number of dependants and never ties for different counts.
            0.45 + 0.5 * (1.0 - 1.0 / (1.0 + n / 2.0)),
            [status, f"waiting ({n}): {shown}"],
            "fix-upstream",
        )


def rule_stale_claim(snap: Snapshot) -> Iterator[Suggestion]:
    """A running task whose claim expired or whose agent no longer runs it: release it."""
    for task in snap.tasks:
        if task.state != TaskState.RUNNING or task.claimed_by is None:
            continue
        agent = snap.agent(task.claimed_by)
        old = snap.now - (task.started_at or task.updated_at) >= CLAIM_GRACE
        orphan = old and (
            agent is None
            or agent.state == AgentState.DEAD
            or (agent.task_id != task.id and agent.state in (AgentState.IDLE, AgentState.PAUSED))
        )
        expired = (
            task.lease_expires_at is not None and task.lease_expires_at < snap.now - LEASE_GRACE
        )
        if not orphan and not expired:
            continue
        where = "not configured" if agent is None else agent.state.value
        evidence = [
            f"claimed by {task.claimed_by} ({where}) for attempt {task.attempts}",
            f"lease expires {clock(task.lease_expires_at)}",
        ]
        if orphan:
            reason = (
                f"{task.id} is still claimed by {task.claimed_by}, which is {where} and not "
                "running it; release the claim so another agent can take it."
            )
            yield _s({"task": task.id}, "release", reason, 0.8, 0.65, evidence, "orphaned-claim")
        elif not snap.supervisor_alive:
            reason = (
                f"{task.id}'s claim expired and no supervisor is renewing it; start "
                "`overseer run` to re-adopt the attempt, or release it to requeue the task."
            )
            yield _s({"task": task.id}, "release", reason, 0.45, 0.5, evidence, "expired-claim")
        else:
            reason = f"{task.id}'s claim expired without being reclaimed; release it."
            yield _s({"task": task.id}, "release", reason, 0.6, 0.55, evidence, "expired-claim")


# -- agent rules --------------------------------------------------------------------------


def rule_stalled_now(snap: Snapshot) -> Iterator[Suggestion]:
    """A stalled agent: still using CPU -> wait/raise the timeout; idle -> interrupt, retry."""
    for agent in snap.agents:
        if agent.state != AgentState.STALLED or agent.name in snap.stopping:
            continue
        task_id = agent.task_id or "its task"
        evidence = [
            f"no output since {clock(agent.last_output_at or agent.state_since)}",
            f"stalled since {clock(agent.state_since)} (stall_timeout {snap.stall_timeout:g}s)",
        ]
        if snap.uses_cpu(agent):
            yield _s(
                {"task": agent.task_id} if agent.task_id else {"agent": agent.name},
                "raise-timeout",
                f"{task_id} prints nothing but {CPU_NOTE}: it is probably working quietly; "
                "let it run, or raise stall_timeout.",
                0.7,
                0.55,
                [*evidence, CPU_NOTE],
                "stalled-busy",
            )
        else:
            yield _s(
                {"agent": agent.name},
                "interrupt",
                f"{agent.name} is silent running {task_id} and its processes are idle: "
                "interrupt it (Ctrl-C), then retry the task.",
                0.75,
                0.7,
                [*evidence, "its processes use no CPU"],
                "stalled-idle",
            )


def rule_prompt(snap: Snapshot) -> Iterator[Suggestion]:
    """Waiting at a prompt: answer yes/no ones; secrets and choices need a person."""
    for agent in snap.agents:
        if agent.state != AgentState.WAITING:
            continue
        text = agent.prompt or agent.last_line
        m = match_prompt(text) if text else None
        task = f" to let {agent.task_id} continue" if agent.task_id else ""
        evidence = [
            f"prompt: {_cut(text or '-', 160)}",
            f"waiting since {clock(agent.state_since)}",
        ]
        if agent.task_id:
            evidence.append(f"task: {agent.task_id}")
        target = {"agent": agent.name}
        if m is None or m.rule == "yes-no-fingerprint":
            why = (
                "verify the host key fingerprint yourself"
                if m is not None
                else "Overseer does not know how to answer it"
            )
            yield _s(
                target,
                "attach",
                f"{agent.name} waits at a prompt that needs a person ({why}); attach and answer.",
                0.8,
                0.8,
                evidence,
                "prompt",
            )
        elif m.secret:
            yield _s(
                target,
                "attach",
                f"{agent.name} asks for a secret (“{_cut(m.text, 60)}”), which Overseer never "
                "types; attach and enter it yourself.",
                0.95,
                0.9,
                evidence,
                "secret-prompt",
            )
        elif m.rule == "select":
            yield _s(
                target,
                "send-input",
                f"{agent.name} asks for a choice (“{_cut(m.text, 60)}”); type it with "
                f"`overseer send {agent.name} CHOICE`.",
                0.7,
                0.8,
                evidence,
                "prompt",
            )
        elif m.rule == "press-enter":
            yield _s(
                target,
                "answer",
                f"{agent.name} waits for Enter (“{_cut(m.text, 60)}”); press it{task}.",
                0.7,
                0.8,
                evidence,
                "prompt",
                text="",
            )
        else:
            answer = "yes" if _ANSWER_YES.search(m.text) else "y"
            yield _s(
                target,
                "answer",
                f"{agent.name} waits at “{_cut(m.text, 80)}”; answer “{answer}”{task}, or "
                "attach to decide yourself.",
                0.6,
                0.8,
                evidence,
                "prompt",
                text=answer,
            )


def rule_dead_agent(snap: Snapshot) -> Iterator[Suggestion]:
    """A dead agent: respawn it; one in a respawn loop needs investigating first."""
    for agent in snap.agents:
        if agent.state != AgentState.DEAD:
            continue
        evidence = [f"dead since {clock(agent.state_since)}: {agent.reason or 'no reason'}"]
        if agent.last_line:
            evidence.append(f"last output: {_cut(agent.last_line, 160)}")
        if "respawn loop" in (agent.reason or ""):
            reason = (
                f"{agent.name} keeps dying right after it starts; check its command, cwd and "
                "environment (its last output is in the evidence) before respawning it."
            )
            yield _s({"agent": agent.name}, "respawn-agent", reason, 0.35, 0.75, evidence, "dead")
        else:
            reason = f"{agent.name} is dead ({agent.reason or 'pane gone'}); respawn it."
            yield _s({"agent": agent.name}, "respawn-agent", reason, 0.75, 0.75, evidence, "dead")


def _agent_failures(snap: Snapshot, name: str, n: int) -> list[Attempt]:
    mine = [
        a
        for attempts in snap.attempts.values()
        for a in attempts
        if a.agent == name and a.outcome in COUNTED and a.finished_at is not None
    ]
    mine.sort(key=lambda a: (a.finished_at or 0.0, a.id))
    tail: list[Attempt] = []
    for a in reversed(mine):
        if a.outcome == AttemptOutcome.OK or len(tail) >= n:
            break
        tail.append(a)
    return list(reversed(tail))


def rule_paused_agent(snap: Snapshot) -> Iterator[Suggestion]:
    """A paused agent: resume it once the cause of its failures is fixed."""
    working = [a for a in snap.agents if a.state not in (AgentState.PAUSED, AgentState.DEAD)]
    ready = any(t.state == TaskState.READY for t in snap.tasks)
    for agent in snap.agents:
        if agent.state != AgentState.PAUSED:
            continue
        failures = _agent_failures(snap, agent.name, max(agent.consecutive_failures, 1))
        evidence = [f"paused since {clock(agent.state_since)}: {agent.reason or 'no reason'}"]
        evidence += [f"{a.task_id} attempt {a.number}: {_exit_text(a)}" for a in failures[-4:]]
        stopped = not working and ready
        if stopped:
            evidence.append("no other agent can take the ready tasks")
        urgency = 0.9 if stopped else 0.5
        tasks = sorted({a.task_id for a in failures})
        if not failures or "operator" in (agent.reason or ""):
            reason = f"{agent.name} was paused by a person; resume it when it should work again."
            yield _s(
                {"agent": agent.name},
                "resume-agent",
                reason,
                0.3,
                urgency * 0.5,
                evidence,
                "paused",
            )
        elif len(tasks) == 1:
            reason = (
                f"{agent.name} was paused after failures that all came from {tasks[0]}, so the "
                "agent itself is probably fine; resume it (and look at that task)."
            )
            yield _s(
                {"agent": agent.name}, "resume-agent", reason, 0.7, urgency, evidence, "paused"
            )
        else:
            reason = (
                f"{agent.name} was paused after failures in {len(tasks)} different tasks; check "
                "its environment (cwd, PATH, env), then resume it."
            )
            yield _s(
                {"agent": agent.name}, "resume-agent", reason, 0.45, urgency, evidence, "paused"
            )


def rule_worktree_changes(snap: Snapshot) -> Iterator[Suggestion]:
    """An agent done with its work while its worktree holds changes: review and commit them."""
    for agent in snap.agents:
        tree = snap.worktrees.get(agent.name)
        if tree is None or agent.state not in (AgentState.IDLE, AgentState.PAUSED):
            continue
        if not tree.dirty and not tree.ahead:
            continue
        evidence = [
            f"branch {tree.branch}: {tree.ahead} commit(s) ahead of {tree.base}, "
            f"{tree.dirty} uncommitted file(s)"
        ]
        if tree.diffstat:
            evidence.append(tree.diffstat)
        if tree.dirty:
            reason = (
                f"{agent.name} is done but {tree.branch} has {tree.dirty} uncommitted "
                "file(s): review the diff (d) and commit them, or discard them."
            )
        else:
            reason = (
                f"{tree.branch} is {tree.ahead} commit(s) ahead of {tree.base}: review "
                "and merge it."
            )
        yield _s({"agent": agent.name}, "attach", reason, 0.6, 0.35, evidence, "worktree-changes")


def rule_worktree_conflicts(snap: Snapshot) -> Iterator[Suggestion]:
    """An agent's branch no longer merges cleanly with its base: a person must look."""
    for agent in snap.agents:
        tree = snap.worktrees.get(agent.name)
        if tree is None or not tree.conflicts:
            continue
        files = ", ".join(tree.conflict_files[:5]) or "unknown files"
        reason = (
            f"{tree.branch} conflicts with {tree.base} in {files}: resolve it before more "
            "work piles up on the branch."
        )
        evidence = [f"git merge-tree {tree.base} {tree.branch}: conflicts in {files}"]
        yield _s({"agent": agent.name}, "attach", reason, 0.9, 0.7, evidence, "worktree-conflicts")


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def _at_least(n: int) -> str:
    """A size rounded down to a power of two, so evidence stays stable while a log grows."""
    bucket = 1 << max(0, n.bit_length() - 1) if n > 0 else 0
    return f"≥ {_size(bucket)}"


def rule_cleanup(snap: Snapshot) -> Iterator[Suggestion]:
    """The state dir's disk is nearly full, or the logs are huge: clean up."""
    if not snap.agents:
        return
    logs = {name: size for name, size in snap.logs.items() if size > 0}
    largest = max(sorted(logs), key=lambda k: logs[k]) if logs else snap.agents[0].name
    total = sum(logs.values())
    evidence: list[str] = []
    reasons: list[str] = []
    urgency = 0.0
    disk = snap.disk
    if (
        disk is not None
        and disk.total > 0
        and (disk.free < DISK_FREE_MIN or disk.free < disk.total * DISK_FREE_FRACTION)
    ):
        evidence.append(f"disk nearly full at {disk.path} (under 5% or 1 GiB free)")
        reasons.append(f"only {_size(disk.free)} of {_size(disk.total)} is free")
        urgency = 0.85
    huge = sorted(name for name, size in logs.items() if size >= LOG_MAX)
    if huge or total >= LOGS_TOTAL_MAX:
        evidence.append(f"logs total {_at_least(total)}")
        evidence += [f"{name}.log {_at_least(logs[name])}" for name in huge[:4]]
        reasons.append(f"the logs take {_size(total)} ({largest}.log is the largest)")
        urgency = max(urgency, 0.35)
    if not evidence:
        return
    yield _s(
        {"agent": largest},
        "cleanup",
        "Clean up the state dir: " + " and ".join(reasons) + ".",
        0.9,
        urgency,
        evidence,
        "cleanup",
    )


def rule_holds(snap: Snapshot) -> Iterator[Suggestion]:
    """The circuit breaker is open, or a budget holds its scope: fix the cause, then resume."""
    if snap.breaker.get("open"):
        codes = ", ".join(str(c) for c in snap.breaker.get("exit_codes") or ())
        yield _s(
            {"fleet": "breaker"},
            "resume",
            "The circuit breaker stopped dispatch: most recent attempts failed on several "
            "agents, which points at something systemic (network, disk, credentials).",
            0.5,
            1.0,
            [
                f"opened {clock(snap.breaker.get('at'))}: {snap.breaker.get('failures')} of "
                f"the last {snap.breaker.get('window')} attempts failed",
                f"exit codes: {codes}",
                f"agents: {', '.join(snap.breaker.get('agents') or ())}",
            ],
            "breaker",
        )
    for b in snap.budgets:
        if not b.holding:
            continue
        task = b.scope[5:] if b.scope.startswith("task:") else None
        what = f"task {task}" if task else ("the project" if b.scope == "project" else b.scope)
        yield _s(
            {"task": task} if task else {"fleet": b.scope},
            "raise-budget",
            f"The budget of {what} is spent ({b.reason}); its work is "
            f"{'stopped' if b.spec.on_exceed == 'stop' else 'paused'}.",
            0.6,
            0.8,
            [f"exceeded {clock(b.acted_at)}: {b.reason}", f"on_exceed: {b.spec.on_exceed}"],
            "budget",
        )


RULES: tuple[Rule, ...] = (
    rule_command_not_found,
    rule_same_failure,
    rule_timeout,
    rule_stalled_before,
    rule_failed,
    rule_flaky,
    rule_blocked,
    rule_fix_upstream,
    rule_stale_claim,
    rule_stalled_now,
    rule_prompt,
    rule_dead_agent,
    rule_paused_agent,
    rule_worktree_conflicts,
    rule_worktree_changes,
    rule_cleanup,
    rule_holds,
)


# -- ranking --------------------------------------------------------------------------------


def rank_key(s: Suggestion) -> tuple[float, float, int, str, str]:
    """Sort key: highest urgency x confidence first, then stable tie-breaks."""
    return (-round(s.score, 6), -s.urgency, _ORDER.get(s.action, 99), s.target_kind, s.target_id)


def suggest(snap: Snapshot, rules: Iterable[Rule] = RULES) -> list[Suggestion]:
    """Every rule's suggestions, masked, one per target and action, ranked."""
    best: dict[str, Suggestion] = {}
    for rule in rules:
        for s in rule(snap):
            s = replace(
                s,
                reason=_mask(s.reason),
                evidence=tuple(_mask(_cut(line)) for line in s.evidence[:MAX_EVIDENCE]),
            )
            old = best.get(s.key)
            if old is None or s.score > old.score:
                best[s.key] = s
    return sorted(best.values(), key=rank_key)


# -- applying -------------------------------------------------------------------------------


def operator_command(s: Suggestion) -> tuple[str, str, dict[str, Any]] | None:
    """The operator command (verb, target, args) that applies a suggestion; None: a person."""
    tid = s.target_id
    if s.action in ("retry", "unblock", "release"):
        return s.action, tid, {}
    if s.action == "block":
        return "block", tid, {"reason": s.text or s.reason}
    if s.action == "answer":
        return "send", tid, {"text": s.text or "", "enter": True}
    if s.action == "interrupt":
        return "interrupt", tid, {}
    if s.action == "respawn-agent":
        return "respawn", tid, {}
    if s.action == "resume-agent":
        return "resume", tid, {}
    if s.action == "resume":  # the breaker (and budgets): `overseer resume`
        return "lift", "", {}
    if s.action == "raise-budget":  # or lift it: `overseer resume --budget SCOPE`
        return "lift", s.target.get("fleet") or f"task:{tid}", {}
    return None


def howto(s: Suggestion, state_dir: str = ".overseer", tmux_label: str | None = None) -> str:
    """What a person should do for an action Overseer cannot take itself."""
    tid = s.target_id
    attach = (
        f"overseer attach {tid}"  # "host/agent": its host may be another machine
        if "/" in tid
        else f"tmux -L {tmux_label} attach -t {tid}"
        if tmux_label
        else "the attach command in `overseer status`"
    )
    if s.action == "attach":
        return f"Attach to {tid}'s pane and answer it yourself: `{attach}` (detach with Ctrl-b d)."
    if s.action == "send-input":
        return f"Type the answer into {tid}'s pane: `overseer send {tid} TEXT` (or attach: `{attach}`)."
    if s.rule == "flaky":
        return (
            f"Nothing to do now ({tid} passed). Find out why its earlier attempts failed "
            "(`overseer events`) and make it deterministic, or keep its retries on purpose."
        )
    if s.rule == "timeout-at-prompt":
        return (
            f"Make {tid} non-interactive (a --yes flag, or pipe the answer in: `yes | COMMAND`), "
            "or answer its prompt with `overseer send AGENT y` while it waits; then "
            f"`overseer retry {tid}`."
        )
    if s.action == "edit-command":
        return (
            f"Fix what {tid} runs (install the program, fix PATH or its cwd, or make it "
            f"non-interactive), then `overseer retry {tid}`. A task keeps the command it was "
            "added with: to run a different command, add it as a new task "
            "(`overseer add NEW-ID -- COMMAND`)."
        )
    if s.action == "raise-timeout":
        return (
            f"Give {tid} more time: raise `stall_timeout` (silence) or the task's `timeout` in "
            "overseer.yaml and restart the supervisor (`overseer down`, then `overseer run`), "
            f"or let it run; then `overseer retry {tid}` if it was stopped. A task keeps the "
            "timeout it was added with."
        )
    if s.action == "fix-upstream":
        return (
            f"Fix {tid} first (its output: `overseer status`, `overseer events`), then "
            f"`overseer retry {tid}`: the tasks waiting on it start by themselves once it is done."
        )
    if s.action == "resume":
        return (
            "Find the common cause (network, disk, credentials: `overseer events`, the failed "
            "attempts' output in `overseer status`), fix it, then `overseer resume`."
        )
    if s.action == "raise-budget":
        scope = s.target.get("fleet") or f"task:{tid}"
        return (
            "Raise the budget in overseer.yaml and restart the supervisor (a changed budget "
            f"starts afresh), or lift it as it is: `overseer resume --budget {scope}`."
        )
    if s.action == "cleanup":
        return (
            f"Free space: truncate the largest logs (`: > {state_dir}/logs/{tid}.log`; tmux "
            f"keeps appending to the same file) and delete the files of finished attempts in "
            f"{state_dir}/run."
        )
    command = operator_command(s)
    if command is None:
        return ""
    verb, target, args = command
    line = f"overseer {verb} {shlex.quote(target)}"
    if verb == "send":
        line += f" {shlex.quote(str(args.get('text', '')))}"
    elif args.get("reason"):
        line += f" --reason {shlex.quote(str(args['reason']))}"
    return line


def to_dicts(
    suggestions: Iterable[Suggestion],
    *,
    state_dir: str = ".overseer",
    tmux_label: str | None = None,
) -> list[dict[str, Any]]:
    """Suggestions as the JSON objects the store keeps (rank is 1-based)."""
    out: list[dict[str, Any]] = []
    for rank, s in enumerate(suggestions, 1):
        command = operator_command(s)
        out.append(
            {
                "rank": rank,
                "key": s.key,
                "target": dict(s.target),
                "action": s.action,
                "reason": s.reason,
                "confidence": s.confidence,
                "urgency": s.urgency,
                "score": round(s.score, 4),
                "evidence": list(s.evidence),
                "evidence_hash": s.evidence_hash,
                "rule": s.rule,
                "text": s.text,
                "apply": (
                    {"verb": command[0], "target": command[1], "args": command[2]}
                    if command
                    else None
                ),
                "howto": howto(s, state_dir, tmux_label),
                "destructive": s.action in DESTRUCTIVE,
            }
        )
    return out


def from_dict(item: Mapping[str, Any]) -> Suggestion:
    """A stored suggestion back as a Suggestion."""
    return Suggestion(
        target={str(k): str(v) for k, v in dict(item["target"]).items()},
        action=str(item["action"]),
        reason=str(item["reason"]),
        confidence=float(item["confidence"]),
        urgency=float(item["urgency"]),
        evidence=tuple(str(e) for e in item.get("evidence") or ()),
        rule=str(item.get("rule") or ""),
        text=None if item.get("text") is None else str(item["text"]),
    )


# -- the live side: snapshots from a store, refreshing the stored list ------------------------


class Insights:
    """Reads snapshots from a store and keeps its stored suggestions current."""

    DISK_EVERY = 10.0  # seconds between disk and log size checks

    def __init__(
        self,
        store: Store,
        state_dir: Path,
        *,
        stall_timeout: float = 300.0,
        tmux_label: str | None = None,
    ) -> None:
        self.store = store
        self.state_dir = Path(state_dir)
        self.stall_timeout = stall_timeout
        self.tmux_label = tmux_label
        self._attempts: dict[str, tuple[tuple[float, int], tuple[Attempt, ...]]] = {}
        self._tasks: dict[str, Task] = {}
        self._full_read_at = -FULL_READ_EVERY
        self._read_at = 0.0  # wall-clock time of the last read of the tasks table
        self._version = 0  # bumped whenever a task read differs from what was known
        self._tuple: tuple[int, tuple[Task, ...]] = (-1, ())
        self._stuck: tuple[int, dict[str, str]] = (-1, {})
        self._evaluated: tuple[object, float, list[dict[str, Any]]] | None = None
        self._disk: tuple[float, Disk | None, dict[str, int]] | None = None
        self._trees: dict[str, tuple[float, Any]] = {}
        stored = store.suggestions()
        self._written = json.dumps(stored, sort_keys=True)
        self.top: str | None = stored[0].get("key") if stored else None

    def _read_tasks(self) -> tuple[Task, ...]:
        """All tasks: changed rows since the last read, and everything every FULL_READ_EVERY s."""
        mono, wall = time.monotonic(), time.time()
        if mono - self._full_read_at >= FULL_READ_EVERY:
            # The working set, not the whole history: memory follows the open work.
            self._tasks = {t.id: t for t in self.store.working_set(KEEP_DONE)}
            self._full_read_at = mono
            self._read_at = wall
            self._version += 1
            for gone in set(self._attempts) - set(self._tasks):
                del self._attempts[gone]
        else:
            # Writers stamp updated_at just before taking the lock: allow some slack. Only
            # rows whose stamp differs are read whole (running ones always: a lease moves
            # alone), so a quiet queue of thousands costs an index lookup, not a decode.
            # Since the last read (not the newest row's stamp: after a quiet spell that would
            # keep re-checking every row written close to it).
            mark, self._read_at = self._read_at, wall
            last_seq = max((t.seq for t in self._tasks.values()), default=0)
            stale = [
                task_id
                for task_id, updated_at, state in self.store.task_stamps_since(
                    mark - WRITE_SLACK, last_seq
                )
                if state == "running"
                or (known := self._tasks.get(task_id)) is None
                or known.updated_at != updated_at
                or known.state.value != state
            ]
            for t in self.store.tasks_by_ids(stale):
                if self._tasks.get(t.id) != t:
                    self._tasks[t.id] = t  # a new id lands last, in seq order like the rest
                    self._version += 1
        if self._tuple[0] != self._version:
            self._tuple = (self._version, tuple(self._tasks.values()))
        return self._tuple[1]

    def _stuck_of(self, tasks: tuple[Task, ...]) -> dict[str, str]:
        """`stuck_among` of the current task set, recomputed only when a task changed."""
        if self._stuck[0] != self._version:
            self._stuck = (self._version, queue.stuck_among(tasks))
        return self._stuck[1]

    def _history(self, task: Task) -> tuple[Attempt, ...]:
        stamp = (task.updated_at, task.attempts)
        hit = self._attempts.get(task.id)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        rows = self.store.attempts(task.id)
        # Only the last attempt's output is read; keep older ones small.
        kept = tuple(
            a if i == len(rows) - 1 else replace(a, output_tail=a.output_tail[-300:])
            for i, a in enumerate(rows)
        )
        self._attempts[task.id] = (stamp, kept)
        return kept

    def _disk_and_logs(self, now: float) -> tuple[Disk | None, dict[str, int]]:
        if self._disk is not None and now - self._disk[0] < self.DISK_EVERY:
            return self._disk[1], self._disk[2]
        disk: Disk | None
        try:
            usage = shutil.disk_usage(self.state_dir)
            disk = Disk(str(self.state_dir), usage.free, usage.total)
        except OSError:
            disk = None
        logs: dict[str, int] = {}
        try:
            with os.scandir(StatePaths(self.state_dir).logs) as entries:
                for entry in entries:
                    if entry.name.endswith(".log"):
                        logs[agent_of(entry.name[:-4])] = entry.stat().st_size
        except OSError:
            pass
        self._disk = (now, disk, logs)
        return disk, logs

    def snapshot(
        self,
        now: float | None = None,
        *,
        supervisor_alive: bool = True,
        cpu_active: frozenset[str] | None = None,
        stopping: frozenset[str] = frozenset(),
    ) -> Snapshot:
        """Read the store (attempt histories only of tasks the rules look at)."""
        now = time.time() if now is None else now
        return self._snapshot(
            now,
            self._read_tasks(),
            tuple(self.store.agents()),
            supervisor_alive=supervisor_alive,
            cpu_active=cpu_active,
            stopping=stopping,
        )

    def _snapshot(
        self,
        now: float,
        tasks: tuple[Task, ...],
        agents: tuple[Agent, ...],
        *,
        supervisor_alive: bool,
        cpu_active: frozenset[str] | None,
        stopping: frozenset[str],
    ) -> Snapshot:
        attempts: dict[str, tuple[Attempt, ...]] = {}
        for t in tasks:
            if (
                t.attempts > 1
                or t.state in (TaskState.FAILED, TaskState.BLOCKED)
                or (t.state == TaskState.READY and t.attempts > 0)
            ):
                attempts[t.id] = self._history(t)
        live = {t.id for t in tasks}
        for gone in set(self._attempts) - live:
            del self._attempts[gone]
        disk, logs = self._disk_and_logs(now)
        worktrees = self._worktrees(agents, now)
        breaker, held = self._holds()
        return Snapshot(
            now=now,
            tasks=tasks,
            attempts=attempts,
            agents=agents,
            stuck=self._stuck_of(tasks),
            stall_timeout=self.stall_timeout,
            supervisor_alive=supervisor_alive,
            disk=disk,
            logs={a.name: logs.get(a.name, 0) for a in agents},
            cpu_active=cpu_active,
            here=self.store.here,
            stopping=stopping,
            worktrees=worktrees,
            breaker=breaker,
            budgets=held,
        )

    def _holds(self) -> tuple[dict[str, Any], tuple[Any, ...]]:
        """The breaker's state and the budgets (two small reads)."""
        from overseer.state.budgets import breaker_state, budgets

        return breaker_state(self.store), tuple(budgets(self.store))

    def _worktrees(self, agents: tuple[Agent, ...], now: float) -> dict[str, Any]:
        """git state of the agents that have a worktree, re-read at most every WORKTREE_TTL."""
        from overseer.agents import worktree

        out: dict[str, Any] = {}
        paths = StatePaths(self.state_dir)
        if not paths.worktrees.is_dir():
            return out  # no agent has a worktree (one stat, not one per agent)
        for agent in agents:
            path = paths.worktree(agent.name)
            if not path.is_dir():
                continue
            cached = self._trees.get(agent.name)
            if cached is None or now - cached[0] >= WORKTREE_TTL:
                try:
                    cached = (now, worktree.status(path))
                except worktree.WorktreeError:
                    cached = (now, None)
                self._trees[agent.name] = cached
            if cached[1] is not None:
                out[agent.name] = cached[1]
        return out

    def refresh(
        self,
        now: float | None = None,
        *,
        supervisor_alive: bool = True,
        cpu_active: frozenset[str] | None = None,
        stopping: frozenset[str] = frozenset(),
        events: bool = True,
    ) -> list[dict[str, Any]]:
        """Recompute, drop dismissed ones, store the list if it changed; return it.

        With `events`, a change of the top suggestion is written to the event log as
        `suggestion.top` (what notifications and the dashboard's bell react to).
        """
        now = time.time() if now is None else now
        tasks, agents = self._read_tasks(), tuple(self.store.agents())
        dismissed = self.store.dismissed()
        # While nothing changes but the clock (heartbeats, output times), the rules are run
        # only every QUIET_EVAL seconds: a settled queue of thousands costs next to nothing.
        key = (
            self._version,
            tuple(
                (a.name, a.state, a.state_since, a.task_id, a.attempt_id, a.pid, a.reason)
                + (a.prompt, a.consecutive_failures, a.respawns)
                for a in agents
            ),
            tuple(sorted(dismissed.items())),
            self._holds(),
            supervisor_alive,
            cpu_active,
            stopping,
        )
        last = self._evaluated
        if last is not None and last[0] == key and now - last[1] < QUIET_EVAL:
            return last[2]
        snap = self._snapshot(
            now,
            tasks,
            agents,
            supervisor_alive=supervisor_alive,
            cpu_active=cpu_active,
            stopping=stopping,
        )
        ranked = suggest(snap)
        hidden = {s.key for s in ranked if dismissed.get(s.key) == s.evidence_hash}
        over = {k: h for k, h in dismissed.items() if k not in hidden}
        if over:
            self.store.drop_dismissals(over)
        visible = [s for s in ranked if s.key not in hidden]
        items = to_dicts(visible, state_dir=str(self.state_dir), tmux_label=self.tmux_label)
        text = json.dumps(items, sort_keys=True)
        if text != self._written:
            self.store.set_suggestions(items)
            self._written = text
        top = items[0]["key"] if items else None
        if events and top is not None and top != self.top:
            first = items[0]
            self.store.event(
                "suggestion.top",
                f"next: {first['action']} {first['key'].split(':')[1]}: {first['reason']}",
                task_id=first["target"].get("task"),
                agent=first["target"].get("agent"),
                data={"key": top, "action": first["action"], "score": first["score"]},
            )
        self.top = top
        self._evaluated = (key, now, items)
        return items
