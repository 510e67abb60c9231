"""What the dashboard shows, read from the store in one go (runs in a worker thread).

No Textual here: a snapshot is plain data, built from one SQLite read transaction plus
psutil figures, so it can be tested and benchmarked without a terminal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from state.models import Event, Task, TaskState
from state.store import Store

Clock = Callable[[], float]
Usage = Callable[[int | None], tuple[float | None, int | None]]

FULL_READ_EVERY = 30.0  # seconds between full reads of the tasks table (deletions, drift)
WRITE_SLACK = 2.0  # writers stamp updated_at just before they commit
SPARK_BUCKETS = 20
SPARK_SECONDS = 30.0  # one bucket of the completions sparkline
THROUGHPUT_WINDOW = 300.0


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


@dataclass(frozen=True)
class TaskRow:
    """One task as the dashboard shows it."""

    id: str
    seq: int
    state: str
    attempts: int
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


class ProcessUsage:
    """CPU percent (from cpu-time deltas between calls) and RSS of an agent's process tree."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.last: dict[int, tuple[float, float]] = {}

    def __call__(self, pid: int | None) -> tuple[float | None, int | None]:
        if not pid:
            return None, None
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            self.last.pop(pid, None)
            return None, None
        cpu = 0.0
        rss = 0
        for p in procs:
            try:
                with p.oneshot():
                    t = p.cpu_times()
                    cpu += t.user + t.system
                    rss += p.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        now = self.clock()
        prev = self.last.get(pid)
        self.last[pid] = (now, cpu)
        if prev is None or now <= prev[0]:
            return None, rss
        return max(0.0, 100.0 * (cpu - prev[1]) / (now - prev[0])), rss


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
        self.store = Store(db_path)
        self.project = project
        self.warn, self.alert = warn, alert
        self.clock = clock
        self.usage: Usage = usage or ProcessUsage()
        self.supervisor_alive = supervisor_alive or (lambda: False)
        self.event_limit = event_limit
        # Between full reads only changed (and running) tasks are read; rows of tasks that
        # did not change, and whose columns do not move with the clock, are reused.
        self._tasks: dict[str, Task] = {}
        self._reasons: dict[str, str | None] = {}
        self._rows: dict[str, tuple[Task, TaskRow]] = {}
        self._mark = 0.0
        self._last_seq = 0
        self._full_at = float("-inf")

    def _load_tasks(self) -> None:
        """Bring the task cache up to date (one read transaction is open)."""
        store = self.store
        mono = time.monotonic()
        began = time.time()  # writers stamp updated_at with this machine's wall clock
        if mono - self._full_at >= FULL_READ_EVERY:
            self._tasks = {t.id: t for t in store.tasks()}
            self._reasons = {k: a.reason for k, a in store.last_attempts().items()}
            self._rows = {k: v for k, v in self._rows.items() if k in self._tasks}
            self._full_at = mono
            self._last_seq = max((t.seq for t in self._tasks.values()), default=0)
        else:
            # Changed since the last read (with slack for writers that stamped just before
            # they committed), running, or added since (found by seq, whatever the clocks).
            stamps = store.task_stamps_since(self._mark - WRITE_SLACK, self._last_seq)
            need = []
            for task_id, updated_at, state in stamps:
                known = self._tasks.get(task_id)
                # Running rows are re-read always: a lease renewal does not touch updated_at.
                if known is None or known.updated_at != updated_at or state == "running":
                    need.append(task_id)
            changed = store.tasks_by_ids(need)
            for t in changed:
                self._tasks[t.id] = t
                self._last_seq = max(self._last_seq, t.seq)
            fresh = store.last_attempts_of([t.id for t in changed])
            for t in changed:
                if t.id in fresh:
                    self._reasons[t.id] = fresh[t.id].reason
        self._mark = began

    def data_version(self) -> int:
        """SQLite's counter of commits by other connections (cheap change detection)."""
        return int(self.store.conn.execute("PRAGMA data_version").fetchone()[0])

    def read(self) -> Snapshot:
        """One consistent snapshot (a single read transaction)."""
        now = self.clock()
        store = self.store
        conn = store.conn
        conn.execute("BEGIN")
        try:
            version = self.data_version()
            self._load_tasks()
            tasks = list(self._tasks.values())
            agents = store.agents()
            sup = store.supervisor()
            events = store.recent_events(self.event_limit)
            suggestions = store.suggestions()
            done_times = [
                r[0]
                for r in conn.execute(
                    "SELECT finished_at FROM attempts WHERE outcome='ok' AND finished_at >= ?",
                    (now - max(THROUGHPUT_WINDOW, SPARK_BUCKETS * SPARK_SECONDS),),
                )
            ]
        finally:
            conn.execute("COMMIT")
        running, pending, ready = TaskState.RUNNING, TaskState.PENDING, TaskState.READY
        tally: dict[TaskState, int] = dict.fromkeys(TaskState, 0)
        states_memo: dict[str, str] = {}
        rows: list[TaskRow] = []
        cache = self._rows
        for t in tasks:
            state = t.state
            tally[state] += 1
            cached = cache.get(t.id)
            if (
                cached is not None
                and cached[0] is t
                and state is not running
                and state is not pending
                and not (state is ready and t.retry_at)
            ):
                rows.append(cached[1])  # nothing in it moves with the clock
                continue
            if state is pending and not states_memo:
                states_memo = {x.id: x.state.value for x in tasks}
            states = states_memo
            reason = self._reasons.get(t.id)
            if t.state == TaskState.RUNNING and t.started_at is not None:
                duration: float | None = now - t.started_at
            elif t.started_at is not None and t.finished_at is not None:
                duration = t.finished_at - t.started_at
            else:
                duration = None
            row = TaskRow(
                id=t.id,
                seq=t.seq,
                state=t.state.value,
                attempts=t.attempts,
                max_attempts=t.max_attempts,
                claimed_by=t.claimed_by,
                lease_left=_left(now, t.lease_expires_at),
                exit_code=t.exit_code,
                duration=duration,
                retry_left=_left(now, t.retry_at) if t.state == TaskState.READY else None,
                blocked_reason=t.blocked_reason,
                waits_for=waits_for(t, states) if t.state == TaskState.PENDING else "",
                reason=reason,
                priority=t.priority,
                command=t.command,
            )
            self._rows[t.id] = (t, row)
            rows.append(row)
        counts = {s.value: n for s, n in tally.items()}
        agent_rows = []
        for ag in agents:
            cpu, rss = self.usage(ag.pid)
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
                )
            )
        spark = [0] * SPARK_BUCKETS
        for ts in done_times:
            idx = SPARK_BUCKETS - 1 - int((now - ts) // SPARK_SECONDS)
            if 0 <= idx < SPARK_BUCKETS:
                spark[idx] += 1
        recent = sum(1 for ts in done_times if now - ts <= THROUGHPUT_WINDOW)
        alive = self.supervisor_alive()
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
