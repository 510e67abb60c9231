"""What the dashboard shows, read from the store in one go (runs in a worker thread).

No Textual here: a snapshot is plain data, built from one SQLite read transaction plus
psutil figures, so it can be tested and benchmarked without a terminal.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from overseer.agents.health import tree_usage
from overseer.state.hosts import BEAT_WITHIN, host_id
from overseer.state.models import Event, Task, TaskState, host_of
from overseer.state.models import Usage as TokenUsage
from overseer.state.store import Store, project_store
from overseer.tui.crash import SUPERVISOR_LOG, log_tail

Clock = Callable[[], float]
Usage = Callable[[int | None], tuple[float | None, int | None]]

FULL_READ_EVERY = 30.0  # seconds between checks of every task's marks (deletions, drift)
WRITE_SLACK = 2.0  # writers stamp updated_at just before they commit
SPARK_BUCKETS = 20
SPARK_SECONDS = 30.0  # one bucket of the completions sparkline
THROUGHPUT_WINDOW = 300.0
FORGET_PIDS_AFTER = 60.0  # CPU samples of a pid not asked about for this long are dropped


@dataclass(frozen=True)
class AgentRow:
    """One agent as the dashboard shows it."""

    name: str
    kind: str
    state: str
    task: str | None
    pane_id: str | None
    pid: int | None
    heartbeat_age: float | None
    state_age: float
    cpu_pct: float | None
    rss: int | None
    last_line: str
    prompt: str | None
    reason: str | None
    usage: TokenUsage | None = None  # an AI agent's tokens and cost so far, as its CLI told
    version_note: str | None = None  # "untested version 0.171 (tested: 0.169)"
    state_source: str | None = None  # what decided the state: a hook, a file line, the screen
    host_gone: bool = False  # on a shared store: its host's supervisor stopped beating
    held: str | None = None  # why it takes no task: the breaker, a project or group budget


@dataclass(frozen=True)
class TaskRow:
    """One task as the dashboard shows it."""

    id: str
    seq: int
    state: str
    attempts: int  # the number of the current or last attempt (released ones included)
    max_attempts: int
    claimed_by: str | None
    lease_left: float | None
    exit_code: int | None
    duration: float | None
    retry_left: float | None
    blocked_reason: str | None
    waits_for: str
    reason: str | None
    priority: int
    command: str
    tries: int = 0  # tries used against max_attempts (released attempts use none)


@dataclass(frozen=True)
class Snapshot:
    """Everything on screen at one moment."""

    now: float
    project: str
    supervisor_pid: int | None
    supervisor_alive: bool
    heartbeat_age: float | None
    counts: dict[str, int]
    throughput: float  # completed tasks per minute over the last five minutes
    spark: list[int]
    agents: list[AgentRow]
    tasks: list[TaskRow]
    events: list[Event]
    suggestions: list[dict[str, Any]]
    warn: float
    alert: float
    data_version: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    # Not running, yet it never stopped cleanly (a stop clears its heartbeat): it crashed or
    # was killed. The last lines `overseer up` logged from it, if it started it.
    supervisor_died: bool = False
    supervisor_log: tuple[str, ...] = ()
    # On a shared store: every host by name, and whether its supervisor beats.
    hosts: tuple[tuple[str, bool], ...] = ()
    # What holds dispatch: "breaker" or the budgets' scopes, each with why (the header's mark).
    holds: tuple[tuple[str, str], ...] = ()


class ProcessUsage:
    """CPU percent (from cpu-time deltas) and RSS of an agent's process tree.

    A snapshot is read on every store change, up to 50 times a second; each tree is
    sampled at most once every `every` seconds and the last figures reused in between.
    """

    def __init__(self, clock: Clock = time.monotonic, every: float = 1.0) -> None:
        self.clock = clock
        self.every = every
        # pid -> (when sampled, the tree's CPU seconds then, the figures shown since)
        self.samples: dict[int, tuple[float, float, tuple[float | None, int | None]]] = {}
        self.pruned = clock()

    def __call__(self, pid: int | None) -> tuple[float | None, int | None]:
        if not pid:
            return None, None
        now = self.clock()
        prev = self.samples.get(pid)
        if prev is not None and now - prev[0] < self.every:
            return prev[2]
        if now - self.pruned >= FORGET_PIDS_AFTER:
            # Pids nobody asked about for a while (agents respawned with new ones).
            self.pruned = now
            for old in [p for p, s in self.samples.items() if now - s[0] >= FORGET_PIDS_AFTER]:
                del self.samples[old]
        usage = tree_usage(pid)
        if not usage.alive:
            self.samples.pop(pid, None)
            return None, None
        cpu = None
        if prev is not None and now > prev[0]:
            cpu = max(0.0, 100.0 * (usage.cpu_seconds - prev[1]) / (now - prev[0]))
        figures = (cpu, usage.rss_bytes)
        self.samples[pid] = (now, usage.cpu_seconds, figures)
        return figures


def _age(now: float, ts: float | None) -> float | None:
    return None if ts is None else max(0.0, now - ts)


def _left(now: float, ts: float | None) -> float | None:
    return None if ts is None else ts - now


def waits_for(task: Task, states: dict[str, str]) -> str:
    """What a pending task waits on: its dependencies that are not done, with their states."""
    parts = [
        f"{d} ({states.get(d, 'missing')})" for d in task.depends_on if states.get(d) != "done"
    ]
    return ", ".join(parts)


def held(store: Store) -> tuple[tuple[str, str], ...]:
    """What holds dispatch: ("breaker", why) while it is open, then (scope, why) for each
    budget that holds (state/budgets.py)."""
    from overseer.state.budgets import breaker_state, budgets

    out: list[tuple[str, str]] = []
    breaker = breaker_state(store)
    if breaker.get("open"):
        codes = ", ".join(str(c) for c in breaker.get("exit_codes") or ())
        out.append(("breaker", f"circuit breaker open (exit codes {codes}): `overseer resume`"))
    out += [
        (b.scope, f"budget of {b.scope} spent ({b.reason})") for b in budgets(store) if b.holding
    ]
    return tuple(out)


def held_agent(name: str, holds: tuple[tuple[str, str], ...]) -> str | None:
    """Why an agent takes no task (the breaker, the project's or its group's budget)."""
    for scope, why in holds:
        group = scope.removeprefix("group:")
        mine = scope.startswith("group:") and re.fullmatch(re.escape(group) + r"(-\d+)?", name)
        if scope in ("breaker", "project") or mine:
            return f"takes no task: {why}"
    return None


class SnapshotReader:
    """Reads snapshots from one store; keeps CPU samples between reads."""

    def __init__(
        self,
        db_path: Path,
        *,
        project: str,
        warn: float = 30.0,
        alert: float = 90.0,
        clock: Clock = time.time,
        usage: Usage | None = None,
        supervisor_alive: Callable[[], bool] | None = None,
        event_limit: int = 300,
    ) -> None:
        self.store = project_store(db_path.parent)
        # Several hosts may share the store: only this host's agents' processes are here.
        self.local_host = None if self.store.local else host_id(db_path.parent)
        self.project = project
        self.warn, self.alert = warn, alert
        self.clock = clock
        self.usage: Usage = usage or ProcessUsage()
        self.supervisor_alive = supervisor_alive or (lambda: False)
        self.event_limit = event_limit
        # After the first read only changed tasks are read; rows of tasks that did not
        # change, and whose columns do not move with the clock, are reused.
        self._tasks: dict[str, Task] = {}
        self._reasons: dict[str, str | None] = {}
        self._tries: dict[str, int] = {}
        self._rows: dict[str, TaskRow] = {}
        self._states: dict[str, str] = {}  # task id -> state value, for waits_for and counts
        self._order: list[str] = []  # task ids in queue order
        self._listed: list[TaskRow] = []  # their rows, as the last snapshot listed them
        self._place: dict[str, int] = {}  # task id -> its index in _order
        self._ticking: set[str] = set()  # rows with countdowns or running time
        self._moved = False  # the last read saw a task change state (or go)
        self._counts: dict[str, int] = {}
        self._events: list[Event] = []
        self._events_at = float("-inf")
        self._mark = 0.0
        self._last_seq = 0
        self._full_at = float("-inf")
        self._loaded = False

    def _load_tasks(self, named: set[str]) -> tuple[set[str], bool]:
        """Bring the task cache up to date (one read transaction is open); `named`: tasks
        that new events name (a superseded attempt's late result changes no task row).

        Returns the ids whose task (or last attempt's reason) changed, and whether tasks
        came or went (the queue order must be rebuilt).
        """
        store = self.store
        mono = time.monotonic()
        began = time.time()  # writers stamp updated_at with this machine's wall clock
        old = self._tasks
        if not self._loaded:
            # The first read: everything.
            fresh = {t.id: t for t in store.tasks()}
            self._reasons = {k: a.reason for k, a in store.last_attempts().items()}
            self._tries = store.tries_used()
            self._tasks = fresh
            self._loaded = True
            self._full_at = mono
            self._last_seq = max((t.seq for t in fresh.values()), default=0)
            self._mark = began
            return set(fresh), True
        full = mono - self._full_at >= FULL_READ_EVERY
        if full:
            # Now and then every task's marks (deletions, and writers whose clocks lag more
            # than WRITE_SLACK): four columns compared, full rows read only where they differ,
            # so 100,000 tasks cost a fraction of a full read (issue 14).
            marks = store.task_marks()
            self._full_at = mono
        else:
            # Changed since the last read (with slack for writers that stamped just before
            # they committed), running, or added since (found by seq, whatever the clocks).
            marks = store.task_marks(self._mark - WRITE_SLACK, self._last_seq)
        need = set(named)
        for task_id, updated_at, state, lease in marks:
            known = old.get(task_id)
            # A running row whose lease moved is re-read: a renewal does not touch updated_at.
            if (
                known is None
                or known.updated_at != updated_at
                or known.state.value != state
                or known.lease_expires_at != lease
            ):
                need.add(task_id)
        reshaped = False
        if full:
            present = {m[0] for m in marks}
            for gone in [i for i in old if i not in present]:
                del old[gone]
                self._reasons.pop(gone, None)
                self._tries.pop(gone, None)
                reshaped = True
        fetched = store.tasks_by_ids(sorted(need))
        for t in fetched:
            reshaped = reshaped or t.id not in old
            old[t.id] = t
            self._last_seq = max(self._last_seq, t.seq)
        ids = [t.id for t in fetched]
        attempts = store.last_attempts_of(ids)
        tries = store.tries_used(ids)
        for i in ids:
            self._reasons[i] = attempts[i].reason if i in attempts else None
            self._tries[i] = tries.get(i, 0)
        self._mark = began
        return set(ids), reshaped

    def _recent_events(self) -> tuple[list[Event], set[str]]:
        """The newest `event_limit` events (only those appended since the last read are
        read), and the tasks the new ones name."""
        mono = time.monotonic()
        last = self._events[-1].id if self._events else None
        if last is None or mono - self._events_at >= FULL_READ_EVERY:
            self._events = self.store.recent_events(self.event_limit)  # now and then, afresh
            self._events_at = mono
            newer = [e for e in self._events if last is not None and e.id > last]
        else:
            newer = self.store.events(since=last, limit=self.event_limit)
            if len(newer) >= self.event_limit:
                self._events = self.store.recent_events(self.event_limit)
            elif newer:
                self._events = (self._events + newer)[-self.event_limit :]
        return list(self._events), {e.task_id for e in newer if e.task_id}

    def data_version(self) -> int:
        """SQLite's counter of commits by other connections (cheap change detection)."""
        return self.store.data_version()

    def read(self) -> Snapshot:
        """One consistent snapshot (a single read transaction)."""
        now = self.clock()
        store = self.store
        with store.read():
            version = store.data_version()
            events, named = self._recent_events()
            changed, reshaped = self._load_tasks(named)
            agents = store.agents()
            sup = store.supervisor()
            known = store.hosts() if self.local_host is not None else []
            suggestions = store.suggestions()
            done_times = store.completions_since(
                now - max(THROUGHPUT_WINDOW, SPARK_BUCKETS * SPARK_SECONDS)
            )
            holds = held(store)
        rows = self._task_rows(now, changed, reshaped)
        if self._moved or not self._counts:  # counted again only when a task changed state
            self._counts = dict.fromkeys((s.value for s in TaskState), 0)
            for state, n in Counter(self._states.values()).items():
                self._counts[state] = n
        counts = dict(self._counts)
        hosts = tuple((h.name, h.stopped_at is None and h.beats(now, BEAT_WITHIN)) for h in known)
        gone = {name for name, alive in hosts if not alive}
        agent_rows = []
        for ag in agents:
            where = host_of(ag.name)
            here = self.local_host is None or where == self.local_host
            cpu, rss = self.usage(ag.pid) if here else (None, None)
            agent_rows.append(
                AgentRow(
                    name=ag.name,
                    kind=ag.kind,
                    state=ag.state.value,
                    task=ag.task_id,
                    pane_id=ag.pane_id,
                    pid=ag.pid,
                    heartbeat_age=_age(now, ag.heartbeat_at),
                    state_age=max(0.0, now - ag.state_since),
                    cpu_pct=cpu,
                    rss=rss,
                    last_line=ag.last_line,
                    prompt=ag.prompt,
                    reason=ag.reason,
                    usage=ag.usage,
                    version_note=ag.version_note,
                    state_source=ag.state_source,
                    host_gone=where in gone,
                    held=held_agent(ag.name, holds),
                )
            )
        spark = [0] * SPARK_BUCKETS
        for ts in done_times:
            idx = SPARK_BUCKETS - 1 - int((now - ts) // SPARK_SECONDS)
            if 0 <= idx < SPARK_BUCKETS:
                spark[idx] += 1
        recent = sum(1 for ts in done_times if now - ts <= THROUGHPUT_WINDOW)
        alive = self.supervisor_alive()
        died = not alive and sup.pid is not None and sup.heartbeat_at is not None
        return Snapshot(
            now=now,
            project=self.project,
            supervisor_pid=sup.pid,
            supervisor_alive=alive,
            heartbeat_age=_age(now, sup.heartbeat_at) if alive else None,
            counts=counts,
            throughput=recent * 60.0 / THROUGHPUT_WINDOW,
            spark=spark,
            agents=agent_rows,
            tasks=rows,
            events=events,
            suggestions=suggestions,
            warn=self.warn,
            alert=self.alert,
            data_version=version,
            supervisor_died=died,
            supervisor_log=self._supervisor_log(sup.started_at) if died else (),
            hosts=hosts,
            holds=holds,
        )

    def _supervisor_log(self, started_at: float | None) -> tuple[str, ...]:
        """The last lines of the supervisor's log, if written since that supervisor started."""
        log = self.store.path.parent / SUPERVISOR_LOG
        try:
            fresh = started_at is not None and log.stat().st_mtime >= started_at
        except OSError:
            return ()
        return tuple(log_tail(log, lines=6)) if fresh else ()

    def _task_rows(self, now: float, changed: set[str], reshaped: bool) -> list[TaskRow]:
        """Every task's row in queue order, rebuilding only rows that can differ.

        A row is rebuilt when its task was re-read, when it moves with the clock (running:
        lease and duration; ready with a retry time: the countdown), or when it is pending
        and some task changed state (what it waits for may have moved on).
        """
        tasks = self._tasks
        states = self._states
        moved = False
        if reshaped:
            self._order = sorted(tasks, key=lambda i: tasks[i].seq)
            for gone in [i for i in states if i not in tasks]:
                del states[gone]
                self._rows.pop(gone, None)
                self._ticking.discard(gone)
                moved = True
        for i in changed:
            state = tasks[i].state.value
            if states.get(i) != state:
                states[i] = state
                moved = True
        self._moved = moved
        rebuild = changed | self._ticking
        if moved:
            rebuild |= {i for i, st in states.items() if st == "pending"}
        rows = self._rows
        ticking = self._ticking
        for i in rebuild:
            t = tasks[i]
            rows[i] = self._task_row(t, now)
            if t.state is TaskState.RUNNING or (t.state is TaskState.READY and t.retry_at):
                ticking.add(i)
            else:
                ticking.discard(i)
        if reshaped or len(self._listed) != len(self._order):
            self._place = {i: n for n, i in enumerate(self._order)}
            self._listed = [rows[i] for i in self._order]
            return list(self._listed)
        # The last list, copied (one C call) with the rebuilt rows put in: walking 100,000
        # ids in Python on each read held the GIL the dashboard's loop needs (issue 14).
        listed = self._listed
        place = self._place
        for i in rebuild:
            listed[place[i]] = rows[i]
        return list(listed)

    def _task_row(self, t: Task, now: float) -> TaskRow:
        if t.state is TaskState.RUNNING and t.started_at is not None:
            duration: float | None = now - t.started_at
        elif t.started_at is not None and t.finished_at is not None:
            duration = t.finished_at - t.started_at
        else:
            duration = None
        return TaskRow(
            id=t.id,
            seq=t.seq,
            state=t.state.value,
            attempts=t.attempts,
            max_attempts=t.max_attempts,
            claimed_by=t.claimed_by,
            lease_left=_left(now, t.lease_expires_at),
            exit_code=t.exit_code,
            duration=duration,
            retry_left=_left(now, t.retry_at) if t.state is TaskState.READY else None,
            blocked_reason=t.blocked_reason,
            waits_for=waits_for(t, self._states) if t.state is TaskState.PENDING else "",
            reason=self._reasons.get(t.id),
            priority=t.priority,
            command=t.command,
            tries=self._tries.get(t.id, 0),
        )

    def attempts(self, task_id: str) -> list[Any]:
        """Attempt history of one task (for the detail panel)."""
        return self.store.attempts(task_id)

    def events_for(self, *, task_id: str | None = None, agent: str | None = None) -> list[Event]:
        """The newest events of one task or agent."""
        evs = self.store.events(task_id=task_id, agent=agent)
        return evs[-50:]

    def close(self) -> None:
        """Close the store connection."""
        self.store.close()
