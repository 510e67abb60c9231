"""State enums and frozen records shared by every layer; no third-party imports."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


class TaskState(enum.StrEnum):
    """Where a task is in its life."""

    PENDING = "pending"  # dependencies not done yet
    READY = "ready"  # may be claimed (once retry_at has passed)
    RUNNING = "running"  # claimed by an agent, under a lease
    DONE = "done"
    FAILED = "failed"  # no attempts left
    BLOCKED = "blocked"  # parked by policy or a person


TERMINAL_TASK_STATES = frozenset({TaskState.DONE, TaskState.FAILED, TaskState.BLOCKED})
ACTIVE_TASK_STATES = frozenset({TaskState.PENDING, TaskState.READY, TaskState.RUNNING})


class AgentState(enum.StrEnum):
    """What an agent is doing, as the supervisor last saw it."""

    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    WAITING = "waiting"  # a prompt on screen wants a human
    STALLED = "stalled"  # busy and silent for stall_timeout
    PAUSED = "paused"  # no new tasks after repeated failures
    DEAD = "dead"  # pane or shell gone and not respawned
    UNKNOWN = "unknown"  # an interactive agent's screen matches no rule (never a guess)


class AttemptOutcome(enum.StrEnum):
    """How one try of a task ended."""

    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"  # non-zero exit or failed verify
    TIMEOUT = "timeout"
    STALLED = "stalled"
    LOST = "lost"  # the agent or tmux died; no exit code could be read
    RELEASED = "released"  # an operator released the claim
    STALE = "stale"  # a result that arrived for a superseded attempt
    # Cut off by a tmux server death it is not known to have caused: no try used (the task
    # then runs alone until it ends; a death while it runs alone counts as LOST).
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class Task:
    """One unit of work in the queue."""

    id: str
    command: str
    state: TaskState
    depends_on: tuple[str, ...] = ()
    priority: int = 0
    timeout: float | None = None
    verify: str | None = None
    max_attempts: int = 3
    attempts: int = 0  # also the fencing token of the current/last attempt
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    claimed_by: str | None = None
    lease_expires_at: float | None = None
    retry_at: float | None = None
    blocked_reason: str | None = None
    exit_code: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    seq: int = 0
    kind: str = "run"  # "run": a shell command; "prompt": text for an interactive agent
    agent: str | None = None  # only this agent (name or instance name) may claim it
    hosts: tuple[str, ...] = ()  # only supervisors of these hosts may claim it (empty: any)


@dataclass(frozen=True)
class Usage:
    """Tokens and cost of a turn, an attempt or an agent, as its CLI reports them."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0  # of input_tokens, read from a cache
    cost_usd: float | None = None  # reported by the CLI, else priced from the table; None: unpriced
    model: str | None = None
    # What a reading measures, for counting it once (agents/usage.py): a later reading with the
    # same key replaces it (a message id; a session's running total); None: it adds.
    key: str | None = None


@dataclass(frozen=True)
class Attempt:
    """One try of a task by one agent."""

    id: int
    task_id: str
    number: int  # fencing token: equals Task.attempts when this try was claimed
    agent: str
    started_at: float
    outcome: AttemptOutcome = AttemptOutcome.RUNNING
    finished_at: float | None = None
    exit_code: int | None = None
    signal: int | None = None
    reason: str | None = None
    output_tail: str = ""
    nonce: str = ""
    log_offset: int = 0
    result: str | None = None  # an interactive agent's attempt: "idle" (it finished its turn)
    usage: Usage | None = None  # tokens/cost of an AI agent's attempt, as its CLI reported them


@dataclass(frozen=True)
class Agent:
    """A pane and the program in it, as recorded in the store."""

    name: str
    kind: str
    state: AgentState
    task_id: str | None = None
    attempt_id: int | None = None
    pane_id: str | None = None
    pid: int | None = None
    last_output_at: float | None = None
    heartbeat_at: float | None = None
    state_since: float = 0.0
    consecutive_failures: int = 0
    respawns: int = 0
    reason: str | None = None
    last_line: str = ""
    prompt: str | None = None
    cli_version: str | None = None  # an AI CLI's version, as it reported it
    version_note: str | None = None  # e.g. "untested version 0.171 (tested: 0.169)"
    signals: dict[str, Any] = field(default_factory=dict)  # which signals arrived, or why not
    state_source: str | None = (
        None  # what decided the state: a hook event, a rollout line, a screen rule
    )
    usage: Usage | None = None  # tokens/cost of the agent's session so far


@dataclass(frozen=True)
class Event:
    """One line of the append-only event log."""

    id: int
    ts: float
    kind: str
    message: str
    task_id: str | None = None
    agent: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class CommandStatus(enum.StrEnum):
    """Where an operator command is."""

    QUEUED = "queued"
    APPLIED = "applied"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Command:
    """An operator command written by the CLI or the dashboard for the supervisor."""

    id: int
    ts: float
    verb: str
    target: str
    args: dict[str, Any] = field(default_factory=dict)
    status: CommandStatus = CommandStatus.QUEUED
    result: str | None = None
    applied_at: float | None = None
    origin: str | None = None  # uid@machine of the process that wrote it
    host: str | None = None  # the host whose supervisor applies it (None: any)


@dataclass(frozen=True)
class HostInfo:
    """One host's supervisor as it last reported (several may share a PostgreSQL store)."""

    name: str
    pid: int | None
    started_at: float | None
    heartbeat_at: float | None
    stopped_at: float | None  # set by a clean stop; a crash leaves only an old heartbeat
    tmux_label: str | None

    def beats(self, now: float, within: float) -> bool:
        """Whether its supervisor beat in the last `within` seconds."""
        return self.heartbeat_at is not None and now - self.heartbeat_at <= within


def host_of(agent: str) -> str | None:
    """The host part of an agent name on a shared store ("host/agent"), else None."""
    head, sep, _ = agent.partition("/")
    return head if sep else None


def hosts_column(hosts: Sequence[str]) -> str | None:
    """How a task's hosts are stored: ",a,b," (a LIKE pattern finds one), NULL for any."""
    return "," + ",".join(hosts) + "," if hosts else None


def hosts_tuple(column: str | None) -> tuple[str, ...]:
    """A task's hosts from their stored form."""
    return tuple(h for h in (column or "").split(",") if h)


@dataclass(frozen=True)
class SupervisorInfo:
    """The supervisor's self-report, refreshed every loop."""

    pid: int | None
    host: str | None
    started_at: float | None
    heartbeat_at: float | None


SUGGESTION_ACTIONS = (
    "retry",
    "block",
    "unblock",
    "answer",
    "send-input",
    "attach",
    "interrupt",
    "respawn-agent",
    "resume-agent",
    "release",
    "raise-timeout",
    "edit-command",
    "fix-upstream",
    "cleanup",
    "resume",
    "raise-budget",
)


@dataclass(frozen=True)
class Suggestion:
    """A proposed next action for a task or agent (filled by the insights rules)."""

    target: dict[str, str]  # {"task": id}, {"agent": name} or {"fleet": what holds it}
    action: str  # one of SUGGESTION_ACTIONS
    reason: str  # one plain sentence
    confidence: float  # 0..1: how sure the rule is that the action is right
    urgency: float  # 0..1: how soon a person should look
    evidence: tuple[str, ...] = ()  # the stable facts it rests on (hashed for dismissal)
    rule: str = ""  # which rule made it, e.g. "command-not-found"
    text: str | None = None  # what `answer` types, or the reason `block` records

    @property
    def target_kind(self) -> str:
        """ "task", "agent" or "fleet" (the breaker, a project or group budget)."""
        return next((k for k in ("task", "agent", "fleet") if k in self.target), "agent")

    @property
    def target_id(self) -> str:
        """The task id or agent name."""
        return self.target.get(self.target_kind) or ""

    @property
    def key(self) -> str:
        """Identity across refreshes: target and action, e.g. "task:build:retry"."""
        return f"{self.target_kind}:{self.target_id}:{self.action}"

    @property
    def evidence_hash(self) -> str:
        """A short digest of the evidence: a dismissal lasts until it changes."""
        digest = hashlib.sha256("\n".join(self.evidence).encode("utf-8", "replace"))
        return digest.hexdigest()[:16]

    @property
    def score(self) -> float:
        """What the ranking sorts by: urgency times confidence."""
        return self.urgency * self.confidence
