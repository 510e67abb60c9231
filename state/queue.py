"""Queue operations over the store: claim, renew, finish, retry, block, release, reclaim.

Every function is one SQLite transaction taken with BEGIN IMMEDIATE, so several processes on
one database can claim at once and never get the same task. A claim bumps the task's
`attempts` counter, which is the fencing token: a result carrying an older number is stale
and never overwrites the newer attempt.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from overseer.state.backend import Conn
from overseer.state.config import cycle_in_run_order
from overseer.state.errors import EXIT_FAILED, OverseerError
from overseer.state.models import Attempt, AttemptOutcome, Task, TaskState, host_of
from overseer.state.redact import mask
from overseer.state.store import (
    FREE_OUTCOMES,
    Store,
    _attempt,
    _task,
    like_literal,
    running_sql,
)

FAILING = frozenset(
    {AttemptOutcome.FAILED, AttemptOutcome.TIMEOUT, AttemptOutcome.STALLED, AttemptOutcome.LOST}
)

Delay = Callable[[int], float]
LEASE_S = 30.0  # a claim lives this long without renewal


def default_delay(failures: int) -> float:
    """Capped exponential backoff: 2, 4, 8 ... seconds, at most 60."""
    return float(min(60.0, 2.0 * 2 ** max(0, failures - 1)))


class QueueError(OverseerError):
    """An operation that does not apply to the task as it stands (message says why)."""

    status = EXIT_FAILED  # refused, as a rejected operator command is


@dataclass(frozen=True)
class Claim:
    """What a successful claim hands to the runner."""

    task: Task
    attempt: Attempt
    waited: float = 0.0  # seconds the task was claimable before this claim (state/latency.py)


def _ready_since(updated_at: float, retry_at: float | None) -> float:
    """When a ready task became claimable: its last change (made ready, or edited while
    ready), or its retry time when that came later."""
    return max(updated_at, retry_at or 0.0)


def _now(now: float | None) -> float:
    return time.time() if now is None else now


def _tries_used(c: Conn, task_id: str) -> int:
    marks = ",".join("?" * len(FREE_OUTCOMES))
    row = c.execute(
        f"SELECT COUNT(*) FROM attempts WHERE task_id=? AND outcome NOT IN ({marks})",
        (task_id, *FREE_OUTCOMES),
    ).fetchone()
    return int(row[0])


def _failures(c: Conn, task_id: str) -> int:
    marks = ",".join("?" * len(FAILING))
    row = c.execute(
        f"SELECT COUNT(*) FROM attempts WHERE task_id=? AND outcome IN ({marks})",
        (task_id, *(o.value for o in FAILING)),
    ).fetchone()
    return int(row[0])


def _get(c: Conn, task_id: str, lock: str = "") -> Task:
    """The task, its row locked for the transaction where `lock` says so (Store.lock_rows)."""
    row = c.execute("SELECT * FROM tasks WHERE id=?" + lock, (task_id,)).fetchone()
    if row is None:
        raise QueueError(f"no task with id {task_id!r}")
    return _task(row)


def _deps_done(c: Conn, task: Task) -> bool:
    deps = sorted(set(task.depends_on))  # a dependency named twice counts once
    if not deps:
        return True
    marks = ",".join("?" * len(deps))
    row = c.execute(
        f"SELECT COUNT(*) FROM tasks WHERE id IN ({marks}) AND state='done'", deps
    ).fetchone()
    return int(row[0]) == len(deps)


def claim(
    store: Store,
    agent: str,
    lease_s: float,
    *,
    now: float | None = None,
    max_running: int | None = None,
    task_id: str | None = None,
    kind: str | None = None,
    names: tuple[str, ...] = (),
    log_offset: int = 0,
    host: str | None = None,
    run_id: int | None = None,
) -> Claim | None:
    """Atomically take the best ready task for `agent`, or None when nothing is claimable.

    `log_offset`: where the attempt's output starts in the agent's log (for recovery);
    `host`: the claimer's host, tasks pinned to other hosts are left to them;
    `run_id`: the supervisor's run (state/runs.py) the attempt belongs to.
    """
    now = _now(now)
    if store.backend == "postgresql":
        return _claim_one_statement(
            store,
            agent,
            lease_s,
            now,
            max_running,
            task_id,
            kind,
            names,
            log_offset,
            host,
            run_id,
        )
    with store.tx() as c:
        if max_running is not None:
            running = c.execute(*running_sql(host)).fetchone()[0]  # one host's, when shared
            if running >= max_running:
                return None
        sql = "SELECT * FROM tasks WHERE state='ready' AND (retry_at IS NULL OR retry_at <= ?)"
        args: list[object] = [now]
        if task_id is not None:
            sql += " AND id=?"
            args.append(task_id)
        if kind is not None:
            sql += " AND kind=?"
            args.append(kind)
        if names:
            # Routed tasks only go to the agent (or agent group) they name.
            sql += f" AND (agent IS NULL OR agent IN ({','.join('?' * len(names))}))"
            args.extend(names)
        if host is not None:
            sql += " AND " + _PINNED
            args.append(_pin_pattern(host))
        row = c.execute(sql + " ORDER BY priority DESC, seq LIMIT 1", args).fetchone()
        if row is None:
            return None
        task = _task(row)
        number = task.attempts + 1
        c.execute(
            "UPDATE tasks SET state='running', attempts=?, claimed_by=?, lease_expires_at=?, "
            "retry_at=NULL, exit_code=NULL, started_at=?, finished_at=NULL, updated_at=? "
            "WHERE id=? AND state='ready'",
            (number, agent, now + lease_s, now, now, task.id),
        )
        cur = c.execute(
            "INSERT INTO attempts(task_id, number, agent, started_at, nonce, log_offset, run_id) "
            "VALUES (?,?,?,?,?,?,?)",
            (task.id, number, agent, now, secrets.token_hex(12), log_offset, run_id),
        )
        # SQLite's RETURNING costs more than this second statement (measured).
        attempt = _attempt(
            c.execute("SELECT * FROM attempts WHERE id=?", (cur.lastrowid,)).fetchone()  # type: ignore[attr-defined]
        )
        store.add_event(
            c,
            "task.claimed",
            f"{task.id} attempt {number} claimed by {agent}",
            task_id=task.id,
            agent=agent,
            data={"attempt": number},
            now=now,
        )
        return Claim(_get(c, task.id), attempt, now - _ready_since(task.updated_at, task.retry_at))


# The claim on PostgreSQL: pick the best ready task no other claimer holds (SKIP LOCKED), mark
# it running under the next attempt number, record the attempt and the event, in ONE round
# trip (bench/pg_probe.md: round trips decide the claim rate). {where} adds the filters.
_CLAIM_PG = """
WITH pick AS (
    SELECT id, updated_at AS was_updated, retry_at AS was_retry FROM tasks
    WHERE state='ready' AND (retry_at IS NULL OR retry_at <= ?){where}
    ORDER BY priority DESC, seq LIMIT 1 FOR UPDATE SKIP LOCKED
), task AS (
    UPDATE tasks AS t SET state='running', attempts=t.attempts + 1, claimed_by=?,
        lease_expires_at=?, retry_at=NULL, exit_code=NULL, started_at=?, finished_at=NULL,
        updated_at=?
    FROM pick WHERE t.id = pick.id AND t.state='ready' RETURNING t.*
), attempt AS (
    INSERT INTO attempts(task_id, number, agent, started_at, nonce, log_offset, run_id)
    SELECT id, attempts, ?, ?, ?, ?, ? FROM task RETURNING *
), event AS (
    INSERT INTO events(ts, kind, task_id, agent, message, data)
    SELECT ?, 'task.claimed', id, ?, id || ' attempt ' || attempts || ' claimed by ' || ?,
        '{{"attempt": ' || attempts || '}}' FROM task
)
SELECT task.*, attempt.id AS attempt_row, pick.was_updated, pick.was_retry
FROM task, attempt, pick
"""


def _claim_one_statement(
    store: Store,
    agent: str,
    lease_s: float,
    now: float,
    max_running: int | None,
    task_id: str | None,
    kind: str | None,
    names: tuple[str, ...],
    log_offset: int,
    host: str | None,
    run_id: int | None,
) -> Claim | None:
    """`claim` as one statement (PostgreSQL): concurrent claimers skip each other's rows."""
    where = ""
    args: list[object] = [now]
    if task_id is not None:
        where += " AND id=?"
        args.append(task_id)
    if kind is not None:
        where += " AND kind=?"
        args.append(kind)
    if names:
        where += " AND (agent IS NULL OR agent = ANY(?))"
        args.append(list(names))
    if host is not None:
        where += " AND " + _PINNED
        args.append(_pin_pattern(host))
    if max_running is not None:
        count, count_args = running_sql(host)
        where += f" AND ({count}) < ?"
        args += [*count_args, max_running]
    nonce = secrets.token_hex(12)
    args += [
        agent,
        now + lease_s,
        now,
        now,
        agent,
        now,
        nonce,
        log_offset,
        run_id,
        now,
        agent,
        agent,
    ]
    row = store.conn.execute(_CLAIM_PG.format(where=where), args).fetchone()
    if row is None:
        return None
    task = _task(row)
    # The attempt row holds nothing the claim did not just write but its id: no second read.
    attempt = Attempt(
        id=row["attempt_row"],
        task_id=task.id,
        number=task.attempts,
        agent=agent,
        started_at=now,
        nonce=nonce,
        log_offset=log_offset,
    )
    return Claim(task, attempt, now - _ready_since(row["was_updated"], row["was_retry"]))


# A task pinned to hosts (stored ",a,b,") is claimed only on one of them.
_PINNED = "(hosts IS NULL OR hosts LIKE ? ESCAPE '!')"


def _pin_pattern(host: str) -> str:
    """The LIKE pattern that finds `host` in a task's stored hosts (its '_' taken literally)."""
    return "%," + like_literal(host) + ",%"


def renew(
    store: Store, task_id: str, number: int, agent: str, lease_s: float, now: float | None = None
) -> bool:
    """Extend a lease; False when the claim is no longer this agent's attempt `number`."""
    now = _now(now)
    with store.tx() as c:
        cur = c.execute(
            "UPDATE tasks SET lease_expires_at=? "
            "WHERE id=? AND attempts=? AND claimed_by=? AND state='running'",
            (now + lease_s, task_id, number, agent),
        )
        return cur.rowcount == 1


def renew_agent_leases(
    store: Store, agents: list[str], lease_s: float, now: float | None = None
) -> int:
    """Extend the leases of every running task held by the given live agents."""
    if not agents:
        return 0
    now = _now(now)
    marks = ",".join("?" * len(agents))
    with store.tx() as c:
        cur = c.execute(
            f"UPDATE tasks SET lease_expires_at=? WHERE state='running' AND claimed_by IN ({marks})",
            (now + lease_s, *agents),
        )
        return cur.rowcount


def finish(
    store: Store,
    task_id: str,
    number: int,
    outcome: AttemptOutcome,
    *,
    exit_code: int | None = None,
    signal: int | None = None,
    reason: str | None = None,
    output_tail: str = "",
    delay: Delay = default_delay,
    block_reason: str | None = None,
    now: float | None = None,
    result: str | None = None,
) -> TaskState | None:
    """Record how attempt `number` ended and move the task on; None when the result is stale.

    OK makes the task done. A failing outcome returns it to ready after a backoff while tries
    remain, else fails it. RELEASED and INTERRUPTED return it to ready at once without using
    a try.
    `block_reason` parks the task as blocked instead.
    """
    now = _now(now)
    with store.tx() as c:
        task = _get(c, task_id, store.lock_rows)
        arow = c.execute(
            "SELECT * FROM attempts WHERE task_id=? AND number=?", (task_id, number)
        ).fetchone()
        if arow is None:
            raise QueueError(f"task {task_id!r} has no attempt {number}")
        attempt = _attempt(arow)
        current = task.state == TaskState.RUNNING and task.attempts == number
        if not current or attempt.outcome != AttemptOutcome.RUNNING:
            if attempt.outcome == AttemptOutcome.RUNNING:
                c.execute(
                    "UPDATE attempts SET outcome=?, finished_at=?, exit_code=?, reason=? WHERE id=?",
                    (AttemptOutcome.STALE.value, now, exit_code, "superseded", attempt.id),
                )
            store.add_event(
                c,
                "attempt.stale",
                f"{task_id} attempt {number} result ignored (task is at attempt "
                f"{task.attempts}, {task.state.value})",
                task_id=task_id,
                agent=attempt.agent,
                data={"attempt": number, "exit_code": exit_code},
                now=now,
            )
            return None
        c.execute(
            "UPDATE attempts SET outcome=?, finished_at=?, exit_code=?, signal=?, reason=?, "
            "output_tail=?, result=? WHERE id=?",
            # Secrets in the output never reach the database.
            (
                outcome.value,
                now,
                exit_code,
                signal,
                mask(reason or "") or None,
                mask(output_tail),
                mask(result or "") or None,
                attempt.id,
            ),
        )
        retry_at: float | None = None
        blocked: str | None = None
        if block_reason is not None:
            new = TaskState.BLOCKED
            blocked = mask(block_reason)
        elif outcome == AttemptOutcome.OK:
            new = TaskState.DONE
        elif outcome in (AttemptOutcome.RELEASED, AttemptOutcome.INTERRUPTED):
            new = TaskState.READY
        elif _tries_used(c, task_id) < task.max_attempts:
            new = TaskState.READY
            retry_at = now + delay(_failures(c, task_id))
        else:
            new = TaskState.FAILED
        c.execute(
            "UPDATE tasks SET state=?, claimed_by=NULL, lease_expires_at=NULL, retry_at=?, "
            "exit_code=?, finished_at=?, blocked_reason=?, updated_at=? WHERE id=?",
            (new.value, retry_at, exit_code, now, blocked, now, task_id),
        )
        detail = f"exit {exit_code}" if exit_code is not None else outcome.value
        if reason:
            detail += f" ({reason})"
        msg = f"{task_id} attempt {number} {outcome.value}: {detail} -> {new.value}"
        if retry_at is not None:
            msg += f", retry in {retry_at - now:.1f}s"
        store.add_event(
            c,
            f"task.{new.value}",
            msg,
            task_id=task_id,
            agent=attempt.agent,
            data={
                "attempt": number,
                "outcome": outcome.value,
                "exit_code": exit_code,
                "signal": signal,
                "retry_at": retry_at,
            },
            now=now,
        )
        if new == TaskState.DONE:
            # Only this task's dependants can have become ready: an index lookup, not a
            # scan of every pending task (a chain of 5,000 would make that quadratic).
            _make_ready(store, c, store.dependants_in(c, task_id, TaskState.PENDING), now)
        return new


def _make_ready(store: Store, c: Conn, pending: Iterable[Task], now: float) -> list[str]:
    promoted = []
    for task in pending:
        if _deps_done(c, task):
            c.execute(
                "UPDATE tasks SET state='ready', updated_at=? WHERE id=? AND state='pending'",
                (now, task.id),
            )
            store.add_event(
                c, "task.ready", f"{task.id} ready (dependencies done)", task_id=task.id, now=now
            )
            promoted.append(task.id)
    return promoted


def suspects(store: Store) -> set[str]:
    """Open tasks whose last attempt a tmux server death cut off (see INTERRUPTED).

    A task stays one after a LOST attempt that followed an interruption: it was running
    alone when the server died again.
    """
    last: dict[str, str] = {}
    seen: set[str] = set()
    for task_id, outcome in store.conn.execute(
        "SELECT a.task_id, a.outcome FROM attempts a JOIN tasks t ON t.id = a.task_id "
        "WHERE t.state IN ('ready', 'running') AND a.outcome NOT IN ('running', ?, ?) "
        "ORDER BY a.task_id, a.number",
        (AttemptOutcome.RELEASED.value, AttemptOutcome.STALE.value),
    ):
        last[task_id] = outcome
        if outcome == AttemptOutcome.INTERRUPTED.value:
            seen.add(task_id)
    cut = (AttemptOutcome.INTERRUPTED.value, AttemptOutcome.LOST.value)
    return {t for t in seen if last[t] in cut}


def promote(store: Store, now: float | None = None) -> list[str]:
    """Move every pending task whose dependencies are all done to ready.

    Finishing a task promotes its own dependants; this whole-queue pass is for tasks added or
    edited with dependencies that are already done, and a rare safety net.
    """
    now = _now(now)
    with store.tx() as c:
        return _make_ready(store, c, store.unblocked_pending_in(c), now)


def waiting_on(store: Store, task: Task) -> list[str]:
    """The dependencies of a task that are not done yet, with their states."""
    out = []
    for dep in task.depends_on:
        t = store.task(dep)
        state = t.state.value if t else "missing"
        if state != TaskState.DONE.value:
            out.append(f"{dep} ({state})")
    return out


def reclaim_expired(
    store: Store,
    now: float | None = None,
    *,
    delay: Delay = default_delay,
    keep: set[str] | None = None,
    hosts_alive: set[str] | None = None,
) -> list[str]:
    """Requeue running tasks whose lease ran out (their attempt counts as lost).

    Claims held by agents named in `keep` are left alone: the caller has checked they live;
    so are those of agents on `hosts_alive` ("host/agent"), whose own supervisors beat.
    """
    now = _now(now)
    keep = set(keep or ())
    alive = hosts_alive or set()
    with store.tx() as c:
        rows = c.execute(
            "SELECT id, attempts, claimed_by FROM tasks WHERE state='running' "
            "AND lease_expires_at IS NOT NULL AND lease_expires_at < ?",
            (now,),
        ).fetchall()
    expired = [(r[0], r[1]) for r in rows if r[2] not in keep and host_of(r[2] or "") not in alive]
    for task_id, number in expired:
        finish(
            store,
            task_id,
            number,
            AttemptOutcome.LOST,
            reason="lease expired",
            delay=delay,
            now=now,
        )
    return [t for t, _ in expired]


def retry(store: Store, task_id: str, reason: str | None = None, now: float | None = None) -> str:
    """Make a failed, blocked, done or backing-off task ready now; allow one more try."""
    now = _now(now)
    with store.tx() as c:
        task = _get(c, task_id, store.lock_rows)
        if task.state == TaskState.RUNNING:
            raise QueueError(f"{task_id} is running; interrupt or release it first")
        if task.state == TaskState.PENDING:
            raise QueueError(f"{task_id} is pending: it waits for {', '.join(task.depends_on)}")
        used = _tries_used(c, task_id)
        max_attempts = max(task.max_attempts, used + 1)
        new = TaskState.READY if _deps_done(c, task) else TaskState.PENDING
        c.execute(
            "UPDATE tasks SET state=?, retry_at=NULL, blocked_reason=NULL, max_attempts=?, "
            "exit_code=NULL, finished_at=NULL, updated_at=? WHERE id=?",
            (new.value, max_attempts, now, task_id),
        )
        msg = f"{task_id} retried by operator -> {new.value}" + (f": {reason}" if reason else "")
        store.add_event(c, "task.retry", msg, task_id=task_id, now=now)
        return msg


def block(store: Store, task_id: str, reason: str, now: float | None = None) -> str:
    """Park a task that is not running as blocked, with a reason."""
    now = _now(now)
    with store.tx() as c:
        task = _get(c, task_id, store.lock_rows)
        if task.state == TaskState.RUNNING:
            raise QueueError(f"{task_id} is running; the supervisor must stop it first")
        c.execute(
            "UPDATE tasks SET state='blocked', blocked_reason=?, retry_at=NULL, updated_at=? "
            "WHERE id=?",
            (mask(reason), now, task_id),
        )
        msg = f"{task_id} blocked: {reason}"
        store.add_event(c, "task.blocked", msg, task_id=task_id, now=now)
        return msg


def unblock(store: Store, task_id: str, now: float | None = None) -> str:
    """Return a blocked task to ready (or pending while its dependencies are not done)."""
    now = _now(now)
    with store.tx() as c:
        task = _get(c, task_id, store.lock_rows)
        if task.state != TaskState.BLOCKED:
            raise QueueError(f"{task_id} is {task.state.value}, not blocked")
        new = TaskState.READY if _deps_done(c, task) else TaskState.PENDING
        used = _tries_used(c, task_id)
        c.execute(
            "UPDATE tasks SET state=?, blocked_reason=NULL, max_attempts=?, updated_at=? "
            "WHERE id=?",
            (new.value, max(task.max_attempts, used + 1), now, task_id),
        )
        msg = f"{task_id} unblocked -> {new.value}"
        store.add_event(c, "task.unblocked", msg, task_id=task_id, now=now)
        return msg


EDITABLE = ("command", "timeout", "verify", "priority", "depends_on")


def _edited(task: Task, fields: dict[str, object]) -> Task:
    """The task with some fields changed, each checked (QueueError says what is wrong)."""
    tid = task.id
    for name, value in fields.items():
        if name == "command":
            if not isinstance(value, str) or not value.strip():
                raise QueueError(f"{tid}: the command must not be empty")
            task = replace(task, command=value)
        elif name == "timeout":
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or value < 0
            ):
                raise QueueError(f"{tid}: the timeout must be seconds > 0 (0: none)")
            task = replace(task, timeout=float(value) if value else None)
        elif name == "verify":
            if value is not None and not isinstance(value, str):
                raise QueueError(f"{tid}: verify must be a command")
            task = replace(task, verify=value or None)
        elif name == "priority":
            if isinstance(value, bool) or not isinstance(value, int):
                raise QueueError(f"{tid}: the priority must be a whole number")
            task = replace(task, priority=value)
        elif name == "depends_on":
            if not isinstance(value, list | tuple) or not all(isinstance(d, str) for d in value):
                raise QueueError(f"{tid}: depends_on must be a list of task ids")
            task = replace(task, depends_on=tuple(dict.fromkeys(str(d) for d in value if d)))
        else:
            raise QueueError(f"{tid}: {name!r} cannot be edited (only {', '.join(EDITABLE)})")
    return task


def _shown(value: object) -> str:
    """A field's value in an event message (commands clipped and masked)."""
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return "[" + ", ".join(value) + "]"
    if isinstance(value, str):
        return repr(mask(value if len(value) <= 60 else value[:59] + "…"))
    return str(value)


def edit(store: Store, changes: dict[str, dict[str, object]], now: float | None = None) -> str:
    """Change tasks' command, timeout, verify, priority or dependencies: all or none.

    The next attempt runs with the new values; a running attempt keeps what it started
    with. Dependencies must name tasks in the store and make no cycle.
    """
    now = _now(now)
    with store.tx() as c:
        rows = c.execute("SELECT * FROM tasks ORDER BY seq" + store.lock_rows)
        tasks = {t.id: t for t in map(_task, rows)}
        edited: dict[str, Task] = {}
        for task_id, fields in changes.items():
            if task_id not in tasks:
                raise QueueError(f"no task with id {task_id!r}")
            edited[task_id] = _edited(tasks[task_id], fields)
            unknown = [d for d in edited[task_id].depends_on if d not in tasks]
            if unknown:
                raise QueueError(f"{task_id} would depend on unknown task(s): {', '.join(unknown)}")
        ring = cycle_in_run_order([edited.get(i, t) for i, t in tasks.items()])
        if ring is not None:
            raise QueueError("dependency cycle: " + " -> ".join([*ring, ring[0]]))
        lines = [_write_edit(store, c, tasks[i], t, now) for i, t in edited.items()]
        return "\n".join(lines)


def _write_edit(store: Store, c: Conn, old: Task, new: Task, now: float) -> str:
    """Store one edited task with an event; return what changed."""
    diff = [k for k in EDITABLE if getattr(old, k) != getattr(new, k)]
    if not diff:
        return f"{old.id}: nothing to change"
    state = old.state
    if "depends_on" in diff and state in (TaskState.PENDING, TaskState.READY):
        state = TaskState.READY if _deps_done(c, new) else TaskState.PENDING
    c.execute(
        "UPDATE tasks SET command=?, timeout=?, verify=?, priority=?, state=?, updated_at=? "
        "WHERE id=?",
        (new.command, new.timeout, new.verify, new.priority, state.value, now, old.id),
    )
    if "depends_on" in diff:
        store.set_dependencies_in(c, old.id, list(dict.fromkeys(new.depends_on)))
    what = ", ".join(f"{k} {_shown(getattr(old, k))} -> {_shown(getattr(new, k))}" for k in diff)
    msg = f"{old.id} edited: {what}"
    if state != old.state:
        msg += f"; {old.state.value} -> {state.value}"
    store.add_event(c, "task.edited", msg, task_id=old.id, data={"fields": diff}, now=now)
    if old.state == TaskState.RUNNING:
        msg += " (the running attempt keeps the old values; the next one uses these)"
    elif state in (TaskState.FAILED, TaskState.BLOCKED, TaskState.DONE):
        msg += f" (it is {state.value}: `overseer retry {old.id}` runs it again)"
    return msg


def add_dependency_check(store: Store, depends_on: list[str]) -> list[str]:
    """The dependencies that name no task in the store."""
    return [d for d in depends_on if store.task(d) is None]


def task_json(task: Task) -> dict[str, object]:
    """A task as the JSON object `overseer status --json` prints."""
    return {
        "id": task.id,
        "state": task.state.value,
        "attempts": task.attempts,
        "max_attempts": task.max_attempts,
        "agent": task.claimed_by,
        "exit_code": task.exit_code,
        "started_at": task.started_at,
        "finished_at": task.finished_at,
        "lease_expires_at": task.lease_expires_at,
        "retry_at": task.retry_at,
        "blocked_reason": task.blocked_reason,
        "depends_on": list(task.depends_on),
        "priority": task.priority,
        "hosts": list(task.hosts),
    }


def dumps(obj: object) -> str:
    """Stable JSON for command-line output."""
    return json.dumps(obj, indent=2, sort_keys=False)


def stuck_pending(store: Store) -> dict[str, str]:
    """Pending tasks that can never start, each with the failed/blocked/missing task it waits on."""
    return stuck_among(store.tasks())


def stuck_among(all_tasks: Iterable[Task]) -> dict[str, str]:
    """`stuck_pending` over tasks already read (the insights snapshot reuses its read)."""
    tasks = {t.id: t for t in all_tasks}
    cause: dict[str, str] = {
        t.id: t.id for t in tasks.values() if t.state in (TaskState.FAILED, TaskState.BLOCKED)
    }
    changed = True
    while changed:
        changed = False
        for t in tasks.values():
            if t.state != TaskState.PENDING or t.id in cause:
                continue
            for dep in t.depends_on:
                if dep not in tasks:
                    cause[t.id] = dep
                elif dep in cause:
                    cause[t.id] = cause[dep]
                else:
                    continue
                changed = True
                break
    return {k: v for k, v in cause.items() if tasks[k].state == TaskState.PENDING}


def settled(store: Store) -> bool:
    """True when no task can make progress without a person: nothing ready or running, and
    every pending task waits on a failed, blocked or missing one."""
    counts = store.task_counts()
    if counts[TaskState.READY.value] or counts[TaskState.RUNNING.value]:
        return False
    return len(stuck_pending(store)) == counts[TaskState.PENDING.value]


def next_retry(store: Store, now: float | None = None) -> float | None:
    """When the first ready task still waiting for its retry time becomes claimable."""
    row = store.conn.execute(
        "SELECT MIN(retry_at) FROM tasks WHERE state='ready' AND retry_at > ?", (_now(now),)
    ).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def claimable(store: Store, now: float | None = None) -> bool:
    """Cheap read-only check: is any ready task past its retry time?"""
    row = store.conn.execute(
        "SELECT 1 FROM tasks WHERE state='ready' AND (retry_at IS NULL OR retry_at <= ?) LIMIT 1",
        (_now(now),),
    ).fetchone()
    return row is not None
