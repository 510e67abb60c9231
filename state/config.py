"""YAML config loading and validation; every error carries file:line:column."""

from __future__ import annotations

import dataclasses
import difflib
import importlib.resources
import io
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from overseer.state.backend import is_url, mask_url
from overseer.state.errors import EXIT_USAGE, OverseerError
from overseer.state.keymap import ACTION_IDS, clashes

SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SAFE_ID_RULE = (
    "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64 characters"
)
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ON_STALL = ("retry", "block", "interrupt")
AGENT_KINDS = ("shell", "claude", "codex", "gemini", "aider", "custom")
# Kinds that take `prompt:` tasks (interactive AI agents and custom REPLs).
PROMPT_KINDS = ("claude", "codex", "gemini", "aider", "custom")
PATTERN_KEYS = ("busy", "idle", "waiting")
MAX_AGENT_COUNT = 1000
MAX_INT = 10**9
STAGGER = 2.0  # seconds between the starts of agents a scale-up adds
MAX_STAGGER = 3600.0
_EXPONENT = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")

TOP_KEYS = (
    "name",
    "max_parallel",
    "stall_timeout",
    "heartbeat",
    "retry",
    "on_stall",
    "pause_after",
    "agents",
    "tasks",
    "keymap",
    "retention",
    "notify",
    "theme",
    "store",
    "hosts",
    "budget",
    "breaker",
    "stagger",
)
HOST_KEYS = ("ssh",)
USER_KEYS = ("theme", "keymap")  # what the user-level config may hold
HEARTBEAT_KEYS = ("warn", "alert")
RETRY_KEYS = ("max_attempts", "backoff", "backoff_max")
RETENTION_KEYS = ("days", "events", "crashes")
RETENTION_CRASHES = 50  # crash contexts kept (agents/crashes.py), the newest first
RETENTION_EVENTS = 200_000  # newest events kept in the store whatever their age
NOTIFY_KEYS = ("command", "events", "min_interval")
BUDGET_KEYS = ("wall", "tokens", "cost_usd", "on_exceed")
BUDGET_LIMITS = ("wall", "tokens", "cost_usd")
ON_EXCEED = ("warn", "pause", "stop")
BREAKER_KEYS = ("failures", "window", "agents")
# Events that need a person; the `notify:` hook may subscribe to any of them.
NOTIFY_EVENTS = (
    "task.blocked",
    "task.failed",
    "agent.waiting",
    "agent.stalled",
    "agent.dead",
    "agent.paused",
    "suggestion.top",
    "budget.warn",
    "budget.exceeded",
    "breaker.open",
)
AGENT_KEYS = (
    "name",
    "kind",
    "count",
    "cwd",
    "env",
    "command",
    "worktree",
    "busy",
    "idle",
    "waiting",
    "version_check",
    "budget",
    "stagger",
)
TASK_KEYS = (
    "id",
    "run",
    "prompt",
    "agent",
    "host",
    "hosts",
    "depends_on",
    "timeout",
    "verify",
    "max_attempts",
    "priority",
    "cwd",
    "env",
    "estimate",
    "budget",
)

_TAG = "tag:yaml.org,2002:"
_NULL = _TAG + "null"
_STR = _TAG + "str"
_INT = _TAG + "int"
_FLOAT = _TAG + "float"
_BOOL = _TAG + "bool"
_MERGE = _TAG + "merge"


class ConfigError(OverseerError):
    """A config problem a user can fix, located at file:line:column."""

    status = EXIT_USAGE

    def __init__(
        self,
        message: str,
        path: str = "<string>",
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


@dataclass(frozen=True)
class HeartbeatConfig:
    """Heartbeat age thresholds (seconds) at which the dashboard warns and alerts."""

    warn: float = 30.0
    alert: float = 90.0


@dataclass(frozen=True)
class RetryConfig:
    """How often a failed task is retried and how long to wait in between."""

    max_attempts: int = 3
    backoff: float = 2.0
    backoff_max: float = 60.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after the given number of failures (capped exponential)."""
        if failures < 1:
            return 0.0
        # The exponent is capped so huge failure counts cannot overflow a float.
        raw = self.backoff * 2.0 ** min(failures - 1, 1000)
        return float(min(self.backoff_max, raw))


@dataclass(frozen=True)
class NotifyConfig:
    """The notification hook: a shell command run for events that need a person."""

    command: str
    events: tuple[str, ...] = NOTIFY_EVENTS
    min_interval: float = 30.0  # seconds between two notifications of the same event and target


@dataclass(frozen=True)
class BudgetSpec:
    """What a scope (the project, an agent group, a task) may spend, and what happens past it."""

    wall: float | None = None  # seconds of attempts (running ones count to now)
    tokens: int | None = None  # input + output tokens the AI CLIs reported
    cost_usd: float | None = None  # the priced part of what they reported
    on_exceed: str = "pause"  # warn | pause | stop

    def as_json(self) -> dict[str, Any]:
        """The budget as stored (the store keeps the budgets of added tasks)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BudgetSpec:
        """A stored budget back (written by as_json)."""
        return cls(**{k: data.get(k) for k in BUDGET_LIMITS}, on_exceed=str(data["on_exceed"]))


@dataclass(frozen=True)
class BreakerConfig:
    """The fleet-wide circuit breaker: `failures` of the last `window` finished attempts
    failed, on at least `agents` distinct agents, stop dispatch."""

    failures: int = 8
    window: int = 10
    agents: int = 3


@dataclass(frozen=True)
class AgentSpec:
    """One kind of agent and how many panes of it to run."""

    name: str
    kind: str = "shell"
    count: int = 1
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict, hash=False)
    command: str | None = None
    worktree: bool = False  # each instance works in its own git worktree and branch
    patterns: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)  # custom kind
    version_check: bool = True  # flag an untested CLI version (it is read all the same)
    budget: BudgetSpec | None = None  # what the group's agents together may spend
    stagger: float | None = None  # seconds between scale-up starts (None: the top level's)
    names: tuple[str, ...] | None = None  # members after `overseer scale` (state/pool.py)

    @property
    def takes_prompts(self) -> bool:
        """Whether this agent runs `prompt:` tasks (else `run:` commands)."""
        return self.kind in PROMPT_KINDS

    def instance_names(self) -> list[str]:
        """Names of the panes this spec expands to."""
        if self.names is not None:
            return list(self.names)
        if self.count == 1:
            return [self.name]
        return [f"{self.name}-{i}" for i in range(1, self.count + 1)]


@dataclass(frozen=True)
class TaskSpec:
    """One task as written in the config."""

    id: str
    run: str
    depends_on: tuple[str, ...] = ()
    timeout: float | None = None
    verify: str | None = None
    max_attempts: int | None = None
    priority: int = 0
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict, hash=False)
    estimate: float | None = None
    prompt: str | None = None  # for interactive agents, instead of `run`
    agent: str | None = None  # only agents of this name (or instance name) take the task
    hosts: tuple[str, ...] = ()  # only supervisors of these hosts take it (empty: any)
    budget: BudgetSpec | None = None

    @property
    def text(self) -> str:
        """What is sent to the agent: the shell command or the prompt."""
        return self.prompt if self.prompt is not None else self.run


@dataclass(frozen=True)
class Config:
    """A validated overseer.yaml."""

    name: str = "overseer"
    max_parallel: int = 8
    stall_timeout: float = 300.0
    heartbeat: HeartbeatConfig = field(default_factory=HeartbeatConfig)
    retry: RetryConfig = field(default_factory=RetryConfig)
    on_stall: str = "retry"
    pause_after: int = 3
    agents: tuple[AgentSpec, ...] = ()
    tasks: tuple[TaskSpec, ...] = ()
    path: Path | None = None
    base_dir: Path = field(default_factory=Path.cwd)
    keymap: dict[str, str] = field(default_factory=dict, hash=False)
    retention_days: float = 7.0
    retention_events: int = RETENTION_EVENTS
    retention_crashes: int = RETENTION_CRASHES
    notify: NotifyConfig | None = None
    theme: str | None = None  # the dashboard's colour theme (a name from themes/)
    store: str | None = None  # a postgresql:// URL (None: SQLite in the state dir)
    # How to reach other hosts' agents: host name -> `ssh` destination (user@addr).
    hosts: dict[str, str] = field(default_factory=dict, hash=False)
    budget: BudgetSpec | None = None  # the whole project's
    breaker: BreakerConfig | None = field(default_factory=BreakerConfig)  # None: `breaker: off`
    stagger: float = STAGGER  # seconds between the starts of agents a scale-up adds
    text: str = field(default="", repr=False, compare=False)  # the YAML it was read from

    @property
    def retention_seconds(self) -> float:
        """How long events, commands, logs and run files of finished work are kept."""
        return self.retention_days * 86400

    def stagger_of(self, spec: AgentSpec) -> float:
        """Seconds between the starts of the group's new agents (its own, else the top level's)."""
        return spec.stagger if spec.stagger is not None else self.stagger

    def agent_instances(self) -> list[tuple[str, AgentSpec]]:
        """Every pane name with the spec it comes from, in config order."""
        return [(name, spec) for spec in self.agents for name in spec.instance_names()]

    def max_attempts_for(self, task: TaskSpec) -> int:
        """The task's own attempt limit, else the config-wide one."""
        return task.max_attempts if task.max_attempts is not None else self.retry.max_attempts


def task_row(t: TaskSpec, max_attempts: int) -> dict[str, Any]:
    """A task as a row for `Store.upsert_tasks` (a prompt task keeps its kind and agent)."""
    return {
        "id": t.id,
        "command": t.text,
        "kind": "prompt" if t.prompt is not None else "run",
        "agent": t.agent,
        "hosts": list(t.hosts),
        "depends_on": list(t.depends_on),
        "priority": t.priority,
        "timeout": t.timeout,
        "verify": t.verify,
        "max_attempts": max_attempts,
        "cwd": t.cwd,
        "env": dict(t.env),
        "budget": t.budget.as_json() if t.budget is not None else None,
    }


# --------------------------------------------------------------------------- helpers


def _quote(text: str, limit: int = 40) -> str:
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return repr(text)


def _describe(node: Node) -> str:
    """How a node reads in an error message: "'eight'", "3.5", "a list"."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if isinstance(node, ScalarNode):
        if node.tag == _NULL:
            return "nothing (null)"
        if node.tag == _STR:
            return _quote(str(node.value))
        if not node.tag.startswith(_TAG):
            return f"{node.tag} {_quote(str(node.value))}"
        return str(node.value)
    return "something else"


def _suggest(word: str, valid: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(valid), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def _one_of_hint(word: str, valid: Iterable[str], noun: str = "valid values") -> str:
    valid = list(valid)
    hint = _suggest(word, valid)
    if hint:
        return hint
    shown = ", ".join(valid[:12]) + (", ..." if len(valid) > 12 else "")
    return f"{noun}: {shown}"


def _is_null(node: Node | None) -> bool:
    return node is None or (isinstance(node, ScalarNode) and node.tag == _NULL)


def _resolve_dir(value: str, base_dir: Path) -> str:
    path = os.path.expanduser(value)
    return os.path.normpath(os.path.join(str(base_dir), path))


class _Validator:
    """Turns a composed YAML node tree into config objects, raising ConfigError."""

    def __init__(self, path: str, base_dir: Path) -> None:
        self.path = path
        self.base_dir = base_dir
        self._constructor = yaml.SafeLoader("")

    # -- errors ----------------------------------------------------------------

    def error(self, node: Node | None, message: str, hint: str | None = None) -> ConfigError:
        mark = getattr(node, "start_mark", None)
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        return ConfigError(message, self.path, line, column, hint)

    def line_of(self, node: Node) -> str:
        mark = getattr(node, "start_mark", None)
        return f"line {mark.line + 1}" if mark is not None else "earlier"

    # -- structure -------------------------------------------------------------

    def mapping(self, node: Node, what: str) -> dict[str, tuple[Node, Node]]:
        """Keys -> (key node, value node) of a mapping; rejects duplicates."""
        if not isinstance(node, MappingNode):
            raise self.error(node, f"{what} must be a mapping, got {_describe(node)}")
        self._flatten_merges(node)
        out: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _NULL:
                raise self.error(
                    key_node,
                    f"keys in {what} must be plain words, got {_describe(key_node)}",
                )
            key = str(key_node.value)
            if key in out:
                raise self.error(
                    key_node,
                    f"duplicate key {key!r} in {what} (first given at {self.line_of(out[key][0])})",
                    hint="remove one of them",
                )
            out[key] = (key_node, value_node)
        return out

    def _flatten_merges(self, node: MappingNode) -> None:
        if not any(k.tag == _MERGE for k, _ in node.value):
            return
        try:
            self._constructor.flatten_mapping(node)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            column = mark.column + 1 if mark is not None else None
            problem = getattr(exc, "problem", None) or "bad merge key"
            raise ConfigError(str(problem), self.path, line, column) from None
        except RecursionError:
            raise self.error(node, "merge keys ('<<') nest too deeply") from None

    def check_keys(
        self, entries: Mapping[str, tuple[Node, Node]], valid: tuple[str, ...], where: str
    ) -> None:
        for key, (key_node, _) in entries.items():
            if key not in valid:
                hint = _suggest(key, valid) or f"valid keys are: {', '.join(valid)}"
                raise self.error(key_node, f"unknown key {key!r} in {where}", hint=hint)

    def sequence(self, node: Node, what: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            raise self.error(node, f"{what} must be a list, got {_describe(node)}")
        return list(node.value)

    # -- scalars ---------------------------------------------------------------

    def string(self, node: Node, label: str, *, allow_blank: bool = False) -> str:
        """Any scalar's text as written (so `id: 12` is "12"); null and collections fail."""
        if not isinstance(node, ScalarNode) or node.tag == _NULL:
            raise self.error(node, f"{label} must be a string, got {_describe(node)}")
        text = str(node.value)
        if not allow_blank and not text.strip():
            raise self.error(node, f"{label} must not be empty")
        return text

    def safe_id(self, node: Node, label: str) -> str:
        text = self.string(node, label)
        if not SAFE_ID.match(text):
            raise self.error(
                node,
                f"{label} {_quote(text)} is not allowed: use only {SAFE_ID_RULE}",
                hint="for example 'build', 'test-unit' or 'worker.2'",
            )
        return text

    def integer(
        self,
        node: Node,
        label: str,
        minimum: int | None = None,
        maximum: int | None = None,
        note: str = "",
    ) -> int:
        wanted = "a whole number"
        if minimum is not None and maximum is not None:
            wanted += f" from {minimum} to {maximum}"
        elif minimum is not None:
            wanted += f" ≥ {minimum}"
        wanted += note
        if not isinstance(node, ScalarNode) or node.tag != _INT:
            raise self.error(node, f"{label} must be {wanted}, got {_describe(node)}")
        try:
            value = self._constructor.construct_yaml_int(node)
        except (ValueError, TypeError, yaml.YAMLError):
            raise self.error(node, f"{label} must be {wanted}, got {_describe(node)}") from None
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(node, f"{label} must be {wanted}, got {_describe(node)}")
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise self.error(node, f"{label} must be {wanted}, got {_describe(node)}")
        if abs(value) > MAX_INT:
            # Keeps every number storable as a 64-bit SQLite integer.
            raise self.error(node, f"{label} is too large: at most {MAX_INT:,}")
        return value

    def number(
        self,
        node: Node,
        label: str,
        *,
        above: float | None = None,
        at_least: float | None = None,
        wanted: str | None = None,
    ) -> float:
        if wanted is None:
            wanted = "a number"
            if above is not None:
                wanted += f" > {above:g}"
            elif at_least is not None:
                wanted += f" ≥ {at_least:g}"
        message = f"{label} must be {wanted}, got {_describe(node)}"
        if not isinstance(node, ScalarNode):
            raise self.error(node, message)
        # YAML 1.1 reads an unquoted `1e3` as a string; take it as the number it looks like.
        exponent = node.tag == _STR and node.style is None and _EXPONENT.match(str(node.value))
        if node.tag not in (_INT, _FLOAT) and not exponent:
            raise self.error(node, message)
        try:
            raw: object
            if exponent:
                raw = float(str(node.value))
            elif node.tag == _INT:
                raw = self._constructor.construct_yaml_int(node)
            else:
                raw = self._constructor.construct_yaml_float(node)
            if not isinstance(raw, int | float) or isinstance(raw, bool):
                raise ValueError(raw)
            value = float(raw)
        except (ValueError, TypeError, OverflowError, yaml.YAMLError):
            raise self.error(node, message) from None
        if not math.isfinite(value):
            raise self.error(node, message)
        if (above is not None and not value > above) or (
            at_least is not None and not value >= at_least
        ):
            raise self.error(node, message)
        return value

    def boolean(self, node: Node, label: str) -> bool:
        """true/false (YAML booleans only)."""
        if isinstance(node, ScalarNode) and node.tag == _TAG + "bool":
            return str(node.value).lower() in ("true", "yes", "on")
        raise self.error(
            node, f"{label} must be true or false, got {_quote(str(getattr(node, 'value', '')))}"
        )

    def choice(self, node: Node, label: str, valid: tuple[str, ...]) -> str:
        text = self.string(node, label)
        if text not in valid:
            raise self.error(
                node,
                f"{label} must be one of {', '.join(valid)}; got {_quote(text)}",
                hint=_one_of_hint(text, valid),
            )
        return text

    def env(self, node: Node, owner: str) -> dict[str, str]:
        """An env mapping; owner reads like "of task 'x'"."""
        if _is_null(node):
            return {}
        label = f"'env' {owner}"
        entries = self.mapping(node, label)
        out: dict[str, str] = {}
        for key, (key_node, value_node) in entries.items():
            if not ENV_NAME.match(key):
                raise self.error(
                    key_node,
                    f"{_quote(key)} in {label} is not a valid environment variable name",
                    hint="use letters, digits and '_', not starting with a digit",
                )
            if _is_null(value_node):
                out[key] = ""
            elif isinstance(value_node, ScalarNode):
                out[key] = str(value_node.value)
            else:
                raise self.error(
                    value_node,
                    f"'env.{key}' {owner} must be a string, number or boolean, "
                    f"got {_describe(value_node)}",
                )
        return out

    def directory(self, node: Node, label: str) -> str | None:
        if node is None or _is_null(node):
            return None
        return _resolve_dir(self.string(node, label), self.base_dir)

    # -- sections --------------------------------------------------------------

    def heartbeat(self, node: Node | None) -> HeartbeatConfig:
        if node is None or _is_null(node):
            return HeartbeatConfig()
        entries = self.mapping(node, "'heartbeat'")
        self.check_keys(entries, HEARTBEAT_KEYS, "'heartbeat'")
        default = HeartbeatConfig()
        warn = default.warn
        alert = default.alert
        if "warn" in entries:
            warn = self.number(entries["warn"][1], "'heartbeat.warn'", above=0)
        if "alert" in entries:
            alert_node = entries["alert"][1]
            alert = self.number(alert_node, "'heartbeat.alert'", above=0)
            if not alert > warn:
                raise self.error(
                    alert_node,
                    f"'heartbeat.alert' must be greater than 'heartbeat.warn' ({warn:g}), "
                    f"got {_describe(alert_node)}",
                )
        elif not alert > warn:
            raise self.error(
                entries["warn"][1],
                f"'heartbeat.warn' ({warn:g}) must be below 'heartbeat.alert' ({alert:g})",
                hint="set 'alert' too",
            )
        return HeartbeatConfig(warn=warn, alert=alert)

    def retry(self, node: Node | None) -> RetryConfig:
        if node is None or _is_null(node):
            return RetryConfig()
        entries = self.mapping(node, "'retry'")
        self.check_keys(entries, RETRY_KEYS, "'retry'")
        default = RetryConfig()
        max_attempts = default.max_attempts
        backoff = default.backoff
        backoff_max = default.backoff_max
        if "max_attempts" in entries:
            max_attempts = self.integer(entries["max_attempts"][1], "'retry.max_attempts'", 1)
        if "backoff" in entries:
            backoff = self.number(entries["backoff"][1], "'retry.backoff'", at_least=0)
        if "backoff_max" in entries:
            cap_node = entries["backoff_max"][1]
            backoff_max = self.number(
                cap_node,
                "'retry.backoff_max'",
                at_least=backoff,
                wanted=f"a number ≥ 'retry.backoff' ({backoff:g})",
            )
        elif backoff > backoff_max:
            raise self.error(
                entries["backoff"][1],
                f"'retry.backoff' ({backoff:g}) is above the default "
                f"'retry.backoff_max' ({backoff_max:g})",
                hint="set 'backoff_max' too",
            )
        return RetryConfig(max_attempts=max_attempts, backoff=backoff, backoff_max=backoff_max)

    def retention(self, node: Node | None) -> tuple[float, int, int]:
        days, events, crashes = 7.0, RETENTION_EVENTS, RETENTION_CRASHES
        if node is None or _is_null(node):
            return days, events, crashes
        entries = self.mapping(node, "'retention'")
        self.check_keys(entries, RETENTION_KEYS, "'retention'")
        if "days" in entries:
            days = self.number(entries["days"][1], "'retention.days'", above=0)
        if "events" in entries:
            events = self.integer(entries["events"][1], "'retention.events'", 1000)
        if "crashes" in entries:
            crashes = self.integer(entries["crashes"][1], "'retention.crashes'", 0, 100_000)
        return days, events, crashes

    def notify(self, node: Node | None) -> NotifyConfig | None:
        if node is None or _is_null(node):
            return None
        example = (
            "notify: {command: 'notify-send Overseer \"$OVERSEER_REASON\"', "
            "events: [task.blocked, agent.waiting]}"
        )
        entries = self.mapping(node, "'notify'")
        self.check_keys(entries, NOTIFY_KEYS, "'notify'")
        if "command" not in entries or _is_null(entries["command"][1]):
            raise self.error(node, "'notify' needs a 'command'", hint=f"for example {example}")
        command = self.string(entries["command"][1], "'notify.command'")
        events: tuple[str, ...] = NOTIFY_EVENTS
        if "events" in entries and not _is_null(entries["events"][1]):
            names: list[str] = []
            for item in self.sequence(entries["events"][1], "'notify.events'"):
                name = self.string(item, "an event in 'notify.events'")
                if name not in NOTIFY_EVENTS:
                    raise self.error(
                        item,
                        f"unknown event {_quote(name)} in 'notify.events'",
                        hint=_one_of_hint(name, NOTIFY_EVENTS, "known events"),
                    )
                if name not in names:
                    names.append(name)
            events = tuple(names)
        min_interval = 30.0
        if "min_interval" in entries:
            min_interval = self.number(
                entries["min_interval"][1], "'notify.min_interval' (seconds)", at_least=0
            )
        return NotifyConfig(command=command, events=events, min_interval=min_interval)

    def budget(self, node: Node | None, owner: str) -> BudgetSpec | None:
        """A `budget:` mapping; owner reads like "of task 'x'" (empty: the project's)."""
        if node is None or _is_null(node):
            return None

        def name(key: str, unit: str = "") -> str:
            return " ".join(w for w in (f"'{key}'", owner, unit) if w)

        label = name("budget")
        example = "budget: {wall: 3600, tokens: 2000000, cost_usd: 20, on_exceed: pause}"
        entries = self.mapping(node, label)
        self.check_keys(entries, BUDGET_KEYS, label)
        limits = [k for k in BUDGET_LIMITS if k in entries and not _is_null(entries[k][1])]
        if not limits:
            raise self.error(
                node,
                f"{label} needs at least one of wall, tokens, cost_usd",
                hint=f"for example {example}",
            )
        wall = tokens = cost = None
        if "wall" in limits:
            wall = self.number(entries["wall"][1], name("budget.wall", "(seconds)"), above=0)
        if "tokens" in limits:
            # A count, written as 2000000, 2_000_000 or 2e6.
            wanted = "a whole number ≥ 1"
            count = self.number(entries["tokens"][1], name("budget.tokens"), wanted=wanted)
            if count < 1 or count != int(count) or count > MAX_INT:
                raise self.error(
                    entries["tokens"][1],
                    f"{name('budget.tokens')} must be {wanted}, got "
                    f"{_describe(entries['tokens'][1])}",
                )
            tokens = int(count)
        if "cost_usd" in limits:
            cost = self.number(entries["cost_usd"][1], name("budget.cost_usd"), above=0)
        on_exceed = "pause"
        if "on_exceed" in entries:
            on_exceed = self.choice(entries["on_exceed"][1], name("budget.on_exceed"), ON_EXCEED)
        return BudgetSpec(wall=wall, tokens=tokens, cost_usd=cost, on_exceed=on_exceed)

    def breaker(self, node: Node | None) -> BreakerConfig | None:
        """`breaker: off`, or a mapping of failures, window and agents (defaults 8, 10, 3)."""
        if node is None or _is_null(node):
            return BreakerConfig()
        if isinstance(node, ScalarNode):
            if node.tag == _BOOL or str(node.value) in ("off", "on"):
                return BreakerConfig() if str(node.value).lower() in ("true", "yes", "on") else None
            raise self.error(
                node,
                f"'breaker' must be off or a mapping, got {_describe(node)}",
                hint="for example breaker: {failures: 8, window: 10, agents: 3}, or breaker: off",
            )
        entries = self.mapping(node, "'breaker'")
        self.check_keys(entries, BREAKER_KEYS, "'breaker'")
        default = BreakerConfig()
        window = default.window
        if "window" in entries:
            window = self.integer(entries["window"][1], "'breaker.window' (attempts)", 1, 1000)
        failures = min(default.failures, window)
        if "failures" in entries:
            failures = self.integer(
                entries["failures"][1],
                "'breaker.failures'",
                1,
                window,
                note=" (at most 'breaker.window')",
            )
        agents = default.agents
        if "agents" in entries:
            agents = self.integer(entries["agents"][1], "'breaker.agents'", 1, MAX_AGENT_COUNT)
        return BreakerConfig(failures=failures, window=window, agents=agents)

    def keymap(self, node: Node | None) -> dict[str, str]:
        """Action id -> key(s); unknown ids and keys bound twice are errors."""
        if node is None or _is_null(node):
            return {}
        entries = self.mapping(node, "'keymap'")
        keymap: dict[str, str] = {}
        for action, (key_node, value_node) in entries.items():
            if action not in ACTION_IDS:
                raise self.error(
                    key_node,
                    f"unknown action {action!r} in 'keymap'",
                    hint=_one_of_hint(action, ACTION_IDS, "actions (the first column of `?`)"),
                )
            keymap[action] = self.string(value_node, f"'keymap.{action}'")
        order = list(entries)
        for key, first, second in clashes(keymap):
            # Point at the later of the two lines when both are in the keymap.
            mine = (
                second if second in keymap and order.index(second) > order.index(first) else first
            )
            other = second if mine == first else first
            how = "in 'keymap'" if other in keymap else "by default"
            raise self.error(
                entries[mine][1],
                f"key {key!r} is bound twice: to {mine!r} and to {other!r} ({how})",
                hint=f"give {mine!r} or {other!r} another key",
            )
        return keymap

    def agent(self, node: Node, index: int) -> AgentSpec:
        entries = self.mapping(node, f"agent #{index + 1}")
        name_entry = entries.get("name")
        where = f"agent #{index + 1}"
        if name_entry is not None and isinstance(name_entry[1], ScalarNode):
            where = f"agent {_quote(str(name_entry[1].value))}"
        self.check_keys(entries, AGENT_KEYS, where)
        if name_entry is None or _is_null(name_entry[1]):
            raise self.error(node, f"{where} has no 'name'", hint="add e.g. 'name: worker'")
        name = self.safe_id(name_entry[1], "agent name")
        label = f"of agent {name!r}"
        kind = "shell"
        if "kind" in entries:
            kind = self.choice(entries["kind"][1], f"'kind' {label}", AGENT_KINDS)
        count = 1
        if "count" in entries:
            count = self.integer(entries["count"][1], f"'count' {label}", 1, MAX_AGENT_COUNT)
        cwd = self.directory(entries["cwd"][1], f"'cwd' {label}") if "cwd" in entries else None
        env = self.env(entries["env"][1], label) if "env" in entries else {}
        command = None
        if "command" in entries and not _is_null(entries["command"][1]):
            command = self.string(entries["command"][1], f"'command' {label}")
        worktree = False
        if "worktree" in entries:
            worktree = self.boolean(entries["worktree"][1], f"'worktree' {label}")
        version_check = True
        if "version_check" in entries:
            version_check = self.boolean(entries["version_check"][1], f"'version_check' {label}")
        stagger = None
        if "stagger" in entries:
            stagger = self.stagger(entries["stagger"][1], f"'stagger' {label}")
        patterns: dict[str, tuple[str, ...]] = {}
        for key in PATTERN_KEYS:
            if key not in entries or _is_null(entries[key][1]):
                continue
            if kind != "custom":
                raise self.error(
                    entries[key][0],
                    f"'{key}' patterns are for agents of kind 'custom' ({label[3:]} is {kind!r})",
                    hint="the built-in kinds bring their own patterns; use kind: custom for "
                    "another program",
                )
            patterns[key] = self.patterns(entries[key][1], f"'{key}' {label}")
        if kind == "custom":
            if command is None:
                raise self.error(
                    node,
                    f"{label[3:]} is of kind 'custom' and needs a 'command'",
                    hint="e.g. command: 'python3 -i'",
                )
            missing = [k for k in ("busy", "idle") if k not in patterns]
            if missing:
                raise self.error(
                    node,
                    f"{label[3:]} is of kind 'custom' and needs {' and '.join(repr(m) for m in missing)} "
                    "patterns",
                    hint="regexes matched against the screen, e.g. idle: ['^>>> $'], "
                    "busy: ['working']",
                )
        return AgentSpec(
            name=name,
            kind=kind,
            count=count,
            cwd=cwd,
            env=env,
            command=command,
            worktree=worktree,
            patterns=patterns,
            version_check=version_check,
            budget=self.budget(entries["budget"][1], label) if "budget" in entries else None,
            stagger=stagger,
        )

    def stagger(self, node: Node, what: str) -> float:
        """Seconds between agent starts: 0 (all at once) to an hour."""
        wanted = f"a number of seconds from 0 to {MAX_STAGGER:g}"
        value = self.number(node, what, at_least=0, wanted=wanted)
        if value > MAX_STAGGER:
            raise self.error(node, f"{what} must be {wanted}, got {value:g}")
        return value

    def patterns(self, node: Node, what: str) -> tuple[str, ...]:
        """A regex or a list of regexes, each checked to compile."""
        items = [node] if isinstance(node, ScalarNode) else self.sequence(node, what)
        out = []
        for item in items:
            text = self.string(item, what)
            try:
                re.compile(text)
            except re.error as exc:
                raise self.error(item, f"{what}: {text!r} is not a valid regex: {exc}") from None
            out.append(text)
        return tuple(out)

    def agents(self, node: Node | None, top: Node) -> tuple[AgentSpec, ...]:
        example = "agents: [{name: worker, kind: shell, count: 2}]"
        if node is None or _is_null(node):
            raise self.error(
                node if node is not None else top,
                "at least one agent is required",
                hint=f"add e.g. {example}",
            )
        assert node is not None
        items = self.sequence(node, "'agents'")
        if not items:
            raise self.error(node, "at least one agent is required", hint=f"add e.g. {example}")
        specs: list[AgentSpec] = []
        seen: dict[str, Node] = {}
        for index, item in enumerate(items):
            spec = self.agent(item, index)
            name_node = self.mapping(item, "agent")["name"][1]
            for instance in spec.instance_names():
                if not SAFE_ID.match(instance):
                    raise self.error(
                        name_node,
                        f"agent instance name {_quote(instance)} is too long: use only "
                        f"{SAFE_ID_RULE}",
                        hint="use a shorter agent name",
                    )
                if instance in seen:
                    raise self.error(
                        name_node,
                        f"agent name {instance!r} is already used by the agent at "
                        f"{self.line_of(seen[instance])}",
                        hint="agent names, and the numbered names 'NAME-1', 'NAME-2', ... of "
                        "agents with a count, must be unique",
                    )
                seen[instance] = name_node
            specs.append(spec)
        return tuple(specs)

    def task(self, node: Node, index: int) -> tuple[TaskSpec, dict[str, Node]]:
        """One task plus the nodes later checks point at ('id', 'dep:NAME')."""
        entries = self.mapping(node, f"task #{index + 1}")
        id_entry = entries.get("id")
        where = f"task #{index + 1}"
        if id_entry is not None and isinstance(id_entry[1], ScalarNode):
            where = f"task {_quote(str(id_entry[1].value))}"
        self.check_keys(entries, TASK_KEYS, where)
        if id_entry is None or _is_null(id_entry[1]):
            raise self.error(node, f"{where} has no 'id'", hint="add e.g. 'id: build'")
        task_id = self.safe_id(id_entry[1], "task id")
        label = f"of task {task_id!r}"
        nodes: dict[str, Node] = {"id": id_entry[1]}
        run_entry = entries.get("run")
        prompt_entry = entries.get("prompt")
        prompt = None
        if run_entry is not None and prompt_entry is not None:
            raise self.error(
                prompt_entry[0],
                f"task {task_id!r} has both 'run' and 'prompt'",
                hint="'run' is a shell command for shell agents; 'prompt' is text for AI agents: "
                "keep one",
            )
        if prompt_entry is not None and not _is_null(prompt_entry[1]):
            prompt = self.string(prompt_entry[1], f"'prompt' {label}")
            if not prompt.strip():
                raise self.error(prompt_entry[1], f"'prompt' {label} is empty")
            run = ""
        elif run_entry is None or _is_null(run_entry[1]):
            raise self.error(
                node if run_entry is None else run_entry[1],
                f"task {task_id!r} has no 'run' command",
                hint="add e.g. 'run: make test' (or 'prompt: ...' for an AI agent)",
            )
        else:
            run = self.string(run_entry[1], f"'run' {label}")
        agent = None
        if "agent" in entries and not _is_null(entries["agent"][1]):
            agent = self.string(entries["agent"][1], f"'agent' {label}")
            nodes["agent"] = entries["agent"][1]
        nodes["kind"] = (prompt_entry or run_entry or (None, node))[1]
        hosts = self.task_hosts(entries, label)
        deps: list[str] = []
        if "depends_on" in entries:
            dep_node = entries["depends_on"][1]
            nodes["depends_on"] = dep_node
            dep_items: list[Node]
            if isinstance(dep_node, ScalarNode) and not _is_null(dep_node):
                dep_items = [dep_node]
            elif _is_null(dep_node):
                dep_items = []
            else:
                dep_items = self.sequence(dep_node, f"'depends_on' {label}")
            for item in dep_items:
                dep = self.string(item, f"dependency {label}")
                if dep not in deps:
                    deps.append(dep)
                    nodes[f"dep:{dep}"] = item
        timeout = None
        if "timeout" in entries and not _is_null(entries["timeout"][1]):
            timeout = self.number(entries["timeout"][1], f"'timeout' {label}", above=0)
        verify = None
        if "verify" in entries and not _is_null(entries["verify"][1]):
            verify = self.string(entries["verify"][1], f"'verify' {label}")
        max_attempts = None
        if "max_attempts" in entries and not _is_null(entries["max_attempts"][1]):
            max_attempts = self.integer(entries["max_attempts"][1], f"'max_attempts' {label}", 1)
        priority = 0
        if "priority" in entries:
            priority = self.integer(entries["priority"][1], f"'priority' {label}")
        cwd = self.directory(entries["cwd"][1], f"'cwd' {label}") if "cwd" in entries else None
        env = self.env(entries["env"][1], label) if "env" in entries else {}
        estimate = None
        if "estimate" in entries and not _is_null(entries["estimate"][1]):
            estimate = self.number(
                entries["estimate"][1], f"'estimate' {label} (seconds)", at_least=0
            )
        spec = TaskSpec(
            id=task_id,
            run=run,
            depends_on=tuple(deps),
            timeout=timeout,
            verify=verify,
            max_attempts=max_attempts,
            priority=priority,
            cwd=cwd,
            env=env,
            estimate=estimate,
            prompt=prompt,
            agent=agent,
            hosts=hosts,
            budget=self.budget(entries["budget"][1], label) if "budget" in entries else None,
        )
        return spec, nodes

    def task_hosts(self, entries: Mapping[str, tuple[Node, Node]], label: str) -> tuple[str, ...]:
        """`host: NAME` or `hosts: [NAME, ...]`: the hosts whose supervisors may take it."""
        if "host" in entries and "hosts" in entries:
            raise self.error(
                entries["hosts"][0],
                f"task {label} has both 'host' and 'hosts'",
                hint="keep one: 'host: NAME', or 'hosts: [NAME, ...]'",
            )
        if "host" in entries and not _is_null(entries["host"][1]):
            return (self.safe_id(entries["host"][1], f"'host' {label}"),)
        if "hosts" not in entries or _is_null(entries["hosts"][1]):
            return ()
        names = [
            self.safe_id(item, f"a host in 'hosts' {label}")
            for item in self.sequence(entries["hosts"][1], f"'hosts' {label}")
        ]
        return tuple(dict.fromkeys(names))

    def hosts(self, node: Node | None) -> dict[str, str]:
        """`hosts: {NAME: {ssh: user@addr}}`: how `attach` reaches another host's agents."""
        if node is None or _is_null(node):
            return {}
        found: dict[str, str] = {}
        for name, (key_node, value) in self.mapping(node, "'hosts'").items():
            self.safe_id(key_node, "a host name in 'hosts'")
            entries = self.mapping(value, f"'hosts.{name}'")
            self.check_keys(entries, HOST_KEYS, f"'hosts.{name}'")
            if "ssh" not in entries or _is_null(entries["ssh"][1]):
                raise self.error(
                    value, f"'hosts.{name}' needs 'ssh'", hint="for example {ssh: me@10.0.0.7}"
                )
            ssh = self.string(entries["ssh"][1], f"'hosts.{name}.ssh'")
            if not ssh or ssh.startswith("-") or any(ch.isspace() for ch in ssh):
                raise self.error(
                    entries["ssh"][1],
                    f"'hosts.{name}.ssh' must be an ssh destination, got {_quote(ssh)}",
                    hint="user@address or a Host of ~/.ssh/config",
                )
            found[name] = ssh
        return found

    def tasks(
        self,
        node: Node | None,
        *,
        check_unknown_deps: bool,
        agents: tuple[AgentSpec, ...] = (),
    ) -> tuple[TaskSpec, ...]:
        if node is None or _is_null(node):
            return ()
        assert node is not None
        items = self.sequence(node, "'tasks'")
        specs: list[TaskSpec] = []
        where: dict[str, dict[str, Node]] = {}
        for index, item in enumerate(items):
            spec, nodes = self.task(item, index)
            if spec.id in where:
                raise self.error(
                    nodes["id"],
                    f"duplicate task id {spec.id!r} (first defined at "
                    f"{self.line_of(where[spec.id]['id'])})",
                    hint="task ids must be unique; rename one of them",
                )
            where[spec.id] = nodes
            specs.append(spec)
        if check_unknown_deps:
            ids = [spec.id for spec in specs]
            for spec in specs:
                for dep in spec.depends_on:
                    if dep not in where:
                        raise self.error(
                            where[spec.id][f"dep:{dep}"],
                            f"task {spec.id!r} depends on unknown task {dep!r}",
                            hint=_one_of_hint(dep, ids, "known tasks"),
                        )
        self.check_cycles(specs, where)
        if agents:
            for spec in specs:
                self.check_route(spec, where[spec.id], agents)
        return tuple(specs)

    def check_route(
        self, spec: TaskSpec, nodes: Mapping[str, Node], agents: tuple[AgentSpec, ...]
    ) -> None:
        """A task must name an existing agent, and one that takes its kind of work."""
        targets = list(agents)
        if spec.agent is not None:
            names = [a.name for a in agents] + [n for a in agents for n in a.instance_names()]
            wanted = spec.agent.rpartition("/")[2]  # "host/agent" names one host's agent
            targets = [a for a in agents if wanted in (a.name, *a.instance_names())]
            if not targets:
                raise self.error(
                    nodes["agent"],
                    f"task {spec.id!r} names unknown agent {spec.agent!r}",
                    hint=_one_of_hint(spec.agent, names, "agents"),
                )
        wants_prompt = spec.prompt is not None
        if not any(a.takes_prompts == wants_prompt for a in targets):
            have = ", ".join(f"{a.name} ({a.kind})" for a in targets)
            if wants_prompt:
                message = f"task {spec.id!r} has a 'prompt' but no AI agent can take it ({have})"
                hint = "prompts go to agents of kind " + ", ".join(PROMPT_KINDS)
            else:
                message = (
                    f"task {spec.id!r} has a 'run' command but no shell agent can take it ({have})"
                )
                hint = "commands go to agents of kind shell; give AI agents a 'prompt:' instead"
            raise self.error(nodes["kind"], message, hint=hint)

    def check_cycles(self, specs: list[TaskSpec], where: Mapping[str, Mapping[str, Node]]) -> None:
        ring = cycle_in_run_order(specs)
        if ring is None:
            return
        first = ring[0]
        needs = ring[-1]  # `first` depends on the last task of the ring
        text = " -> ".join([*ring, first])
        node = where[first].get(f"dep:{needs}", where[first]["id"])
        raise self.error(
            node,
            f"dependency cycle: {text}",
            hint="a task cannot (even indirectly) depend on itself; remove one of these "
            "dependencies",
        )

    def config(self, root: Node) -> Config:
        entries = self.mapping(root, "the top level")
        # Top-level keys starting with 'x-' are free for YAML anchors, as in compose files.
        entries = {k: v for k, v in entries.items() if not k.startswith("x-")}
        self.check_keys(entries, TOP_KEYS, "the top level")

        def value(key: str) -> Node | None:
            entry = entries.get(key)
            return entry[1] if entry is not None else None

        name = "overseer"
        name_node = value("name")
        if not _is_null(name_node):
            assert name_node is not None
            name = self.safe_id(name_node, "'name'")
        max_parallel = 8
        if (node := value("max_parallel")) is not None:
            max_parallel = self.integer(node, "'max_parallel'", 1)
        stall_timeout = 300.0
        if (node := value("stall_timeout")) is not None:
            stall_timeout = self.number(node, "'stall_timeout'", above=0)
        pause_after = 3
        if (node := value("pause_after")) is not None:
            pause_after = self.integer(node, "'pause_after'", 0, note=" (0 = never pause)")
        on_stall = "retry"
        if (node := value("on_stall")) is not None:
            on_stall = self.choice(node, "'on_stall'", ON_STALL)
        heartbeat = self.heartbeat(value("heartbeat"))
        retry = self.retry(value("retry"))
        retention = self.retention(value("retention"))
        keymap = self.keymap(value("keymap"))
        notify = self.notify(value("notify"))
        budget = self.budget(value("budget"), "")
        breaker = self.breaker(value("breaker"))
        theme = None
        if (node := value("theme")) is not None:
            theme = self.string(node, "'theme'")
        store = None
        if (node := value("store")) is not None and not _is_null(node):
            store = self.string(node, "'store'")
            if not is_url(store):
                raise self.error(
                    node,
                    f"'store' must be a postgresql:// URL, got {_quote(mask_url(store))}",
                    hint="leave it out for SQLite: the store is then .overseer/state.db",
                )
        hosts = self.hosts(value("hosts"))
        stagger = STAGGER
        if (node := value("stagger")) is not None:
            stagger = self.stagger(node, "'stagger'")
        agents = self.agents(value("agents"), root)
        tasks = self.tasks(value("tasks"), check_unknown_deps=True, agents=agents)
        return Config(
            name=name,
            max_parallel=max_parallel,
            stall_timeout=stall_timeout,
            heartbeat=heartbeat,
            retry=retry,
            on_stall=on_stall,
            pause_after=pause_after,
            agents=agents,
            tasks=tasks,
            base_dir=self.base_dir,
            keymap=keymap,
            retention_days=retention[0],
            retention_events=retention[1],
            retention_crashes=retention[2],
            notify=notify,
            theme=theme,
            store=store,
            hosts=hosts,
            budget=budget,
            breaker=breaker,
            stagger=stagger,
        )


class Dependent(Protocol):
    """Anything with an id and dependencies: a TaskSpec, or a Task from the store."""

    @property
    def id(self) -> str: ...

    @property
    def depends_on(self) -> tuple[str, ...]: ...


def find_cycle(tasks: Iterable[Dependent]) -> list[str] | None:
    """A dependency cycle as [a, b, ..., z] where each depends on the next, or None."""
    deps = {task.id: [d for d in task.depends_on] for task in tasks}
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(deps, white)
    for root in deps:
        if colour[root] != white:
            continue
        # Iterative DFS so long chains cannot hit the recursion limit.
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = [root]
        colour[root] = grey
        while stack:
            current, next_index = stack[-1]
            children = deps[current]
            if next_index >= len(children):
                stack.pop()
                path.pop()
                colour[current] = black
                continue
            stack[-1] = (current, next_index + 1)
            child = children[next_index]
            if child not in colour:
                continue  # unknown dependency: not part of any cycle here
            if colour[child] == grey:
                return path[path.index(child) :]
            if colour[child] == white:
                colour[child] = grey
                stack.append((child, 0))
                path.append(child)
    return None


def cycle_in_run_order(tasks: Iterable[Dependent]) -> list[str] | None:
    """A dependency cycle in run order ("a -> b": b needs a), from its earliest task listed."""
    tasks = list(tasks)
    cycle = find_cycle(tasks)
    if cycle is None:
        return None
    order = {task.id: i for i, task in enumerate(tasks)}
    ring = list(reversed(cycle))
    start = min(range(len(ring)), key=lambda i: order[ring[i]])
    return ring[start:] + ring[:start]


# --------------------------------------------------------------------------- parsing


def _compose(text: str, path: str) -> Node | None:
    """Parse YAML into a node tree that keeps line/column marks."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        problem = exc.problem or exc.context or "malformed YAML"
        if exc.context and exc.problem:
            if problem.startswith("but "):
                problem = f"{exc.context}, {problem}"
            else:
                problem = f"{problem} ({exc.context})"
        message = f"invalid YAML: {problem}"
        raise ConfigError(message, path, line, column) from None
    except yaml.reader.ReaderError as exc:
        position = int(exc.position)
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
        char = exc.character
        code = ord(char) if isinstance(char, str) else int(char)
        raise ConfigError(
            f"invalid YAML: unacceptable character #x{code:04x}: {exc.reason}",
            path,
            line,
            column,
            hint="remove control characters from the file",
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", path) from None
    except RecursionError:
        raise ConfigError("invalid YAML: nested too deeply", path) from None


def _root(text: str, path: str, what: str) -> Node:
    root = _compose(text, path)
    if root is None or _is_null(root):
        raise ConfigError(
            f"{what} is empty",
            path,
            hint="see the README for an example, or try `overseer run --demo`",
        )
    return root


def load_config_text(text: str, path: str = "<string>", base_dir: Path | None = None) -> Config:
    """Validate config YAML text; relative paths resolve against base_dir (default: cwd)."""
    base = (base_dir or Path.cwd()).absolute()
    root = _root(text, path, "the config")
    return dataclasses.replace(_Validator(path, base).config(root), text=text)


def load_config(path: str | Path) -> Config:
    """Read and validate a config file."""
    file = Path(path)
    shown = str(path)
    if not file.exists():
        raise ConfigError(
            f"config file {shown!r} does not exist",
            shown,
            hint="create one (see the README for an example overseer.yaml), pass "
            "--config PATH, or try the built-in demo with `overseer run --demo`",
        )
    text = _read_text(file, shown)
    base = file.absolute().parent
    config = load_config_text(text, shown, base)
    return dataclasses.replace(config, path=file.absolute())


def _read_text(file: Path, shown: str) -> str:
    """A config file's text, or a ConfigError saying why it cannot be read."""
    if file.is_dir():
        raise ConfigError(f"{shown!r} is a directory, not a config file", shown)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror or exc}", shown) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"the config file is not UTF-8 text (bad byte at offset {exc.start})", shown
        ) from None


@dataclass(frozen=True)
class UserConfig:
    """A person's own settings for every project: `$XDG_CONFIG_HOME/overseer/config.yaml`."""

    path: Path
    theme: str | None = None
    keymap: dict[str, str] = field(default_factory=dict, hash=False)


def user_config_path() -> Path:
    """Where the user-level config lives ($XDG_CONFIG_HOME, else ~/.config)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "overseer" / "config.yaml"


def load_user_config(path: str | Path | None = None) -> UserConfig | None:
    """The user-level config (theme, keymap), validated like overseer.yaml; None when absent."""
    file = Path(path) if path is not None else user_config_path()
    if not file.exists():
        return None
    shown = str(file)
    root = _compose(_read_text(file, shown), shown)
    if root is None or _is_null(root):
        return UserConfig(path=file)
    validator = _Validator(shown, file.absolute().parent)
    entries = validator.mapping(root, "the top level")
    entries = {k: v for k, v in entries.items() if not k.startswith("x-")}
    validator.check_keys(entries, USER_KEYS, "the user config")
    theme = validator.string(entries["theme"][1], "'theme'") if "theme" in entries else None
    keymap = validator.keymap(entries["keymap"][1] if "keymap" in entries else None)
    return UserConfig(path=file, theme=theme, keymap=keymap)


def effective_keymap(user: UserConfig | None, config: Config | None) -> dict[str, str]:
    """The user's keymap with the project's on top; a key the two bind twice is an error."""
    mine = user.keymap if user is not None else {}
    project = config.keymap if config is not None else {}
    merged = {**mine, **project}

    def origin(action: str) -> str:
        if action in project:
            return "in the project's keymap"
        return f"in {user.path}" if user is not None and action in mine else "by default"

    for key, first, second in clashes(merged):
        raise ConfigError(
            f"key {key!r} is bound twice: to {first!r} ({origin(first)}) and to {second!r} "
            f"({origin(second)})",
            str(config.path if config is not None and config.path else "keymap"),
            hint="give one of them another key in 'keymap'",
        )
    return merged


def load_tasks_file(
    path: str | Path, base_dir: Path | None = None, agents: tuple[AgentSpec, ...] = ()
) -> list[TaskSpec]:
    """Read a list of tasks (or {tasks: [...]}) with the same validation as config tasks;
    with `agents`, each task must have an agent that takes it (as in a config)."""
    file = Path(path)
    shown = str(path)
    if not file.exists():
        raise ConfigError(f"tasks file {shown!r} does not exist", shown)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the tasks file: {exc}", shown) from None
    return load_tasks_text(text, shown, base_dir or file.absolute().parent, agents)


def load_tasks_text(
    text: str,
    path: str = "<string>",
    base_dir: Path | None = None,
    agents: tuple[AgentSpec, ...] = (),
) -> list[TaskSpec]:
    """Like load_tasks_file, for text already in memory."""
    base = (base_dir or Path.cwd()).absolute()
    root = _root(text, path, "the tasks file")
    validator = _Validator(path, base)
    if isinstance(root, MappingNode):
        entries = validator.mapping(root, "the top level")
        validator.check_keys(entries, ("tasks",), "the top level of a tasks file")
        if "tasks" not in entries:
            raise validator.error(root, "a tasks file needs a 'tasks:' list")
        root = entries["tasks"][1]
    elif not isinstance(root, SequenceNode):
        raise validator.error(
            root,
            f"a tasks file must be a list of tasks or a mapping with 'tasks:', "
            f"got {_describe(root)}",
        )
    return list(validator.tasks(root, check_unknown_deps=False, agents=agents))


def demo_config() -> Config:
    """The embedded demo (state/data/demo.yaml), with the current directory as base."""
    text = importlib.resources.files("overseer.state").joinpath("data/demo.yaml").read_text("utf-8")
    return load_config_text(text, "demo.yaml", Path.cwd())


def _plain(value: object) -> object:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


def task_spec_from_mapping(data: Mapping[str, object], path: str = "<cli>") -> TaskSpec:
    """Validate one task given as Python values (e.g. from `overseer add ID -- CMD`)."""
    dumper = yaml.SafeDumper(io.StringIO())
    try:
        node = dumper.represent_data(_plain(dict(data)))
    except yaml.YAMLError as exc:
        raise ConfigError(f"task has values that are not plain data: {exc}", path) from None
    validator = _Validator(path, Path.cwd().absolute())
    spec, _ = validator.task(node, 0)
    if spec.id in spec.depends_on:
        raise ConfigError(f"dependency cycle: {spec.id} -> {spec.id}", path)
    return spec
