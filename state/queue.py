"""Queue operations over the store: claim, renew, finish, retry, block, release, reclaim.

Every function is one SQLite transaction taken with BEGIN IMMEDIATE, so several processes on
one database can claim at once and never get the same task. A claim bumps the task's
`attempts` counter, which is the fencing token: a result carrying an older number is stale
and never overwrites the newer attempt.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from state.models import Attempt, AttemptOutcome, Task, TaskState
from state.redact import mask
from state.store import Store, _attempt, _task

# Outcomes that do not use up one of a task's tries.
FREE_OUTCOMES = (
    AttemptOutcome.RELEASED.value,
    AttemptOutcome.STALE.value,
    AttemptOutcome.INTERRUPTED.value,
)
FAILING = frozenset(
    {AttemptOutcome.FAILED, AttemptOutcome.TIMEOUT, AttemptOutcome.STALLED, AttemptOutcome.LOST}
)

Delay = Callable[[int], float]


def default_delay(failures: int) -> float:
    """Capped exponential backoff: 2, 4, 8 ... seconds, at most 60."""
    return float(min(60.0, 2.0 * 2 ** max(0, failures - 1)))


class QueueError(Exception):
    """An operation that does not apply to the task as it stands (message says why)."""


@dataclass(frozen=True)
class Claim:
    """What a successful claim hands to the runner."""

    task: Task
    attempt: Attempt


def _now(now: float | None) -> float:
    return time.time() if now is None else now


def _tries_used(c: sqlite3.Connection, task_id: str) -> int:
    marks = ",".join("?" * len(FREE_OUTCOMES))
    row = c.execute(
        f"SELECT COUNT(*) FROM attempts WHERE task_id=? AND outcome NOT IN ({marks})",
        (task_id, *FREE_OUTCOMES),
    ).fetchone()
    return int(row[0])


def _failures(c: sqlite3.Connection, task_id: str) -> int:
    marks = ",".join("?" * len(FAILING))
    row = c.execute(
        f"SELECT COUNT(*) FROM attempts WHERE task_id=? AND outcome IN ({marks})",
        (task_id, *(o.value for o in FAILING)),
    ).fetchone()
    return int(row[0])


def _get(c: sqlite3.Connection, task_id: str) -> Task:
    row = c.execute("SELECT * FROM tasks WHERE id=?", (task_id,)).fetchone()
    if row is None:
        raise QueueError(f"no task with id {task_id!r}")
    return _task(row)


def _deps_done(c: sqlite3.Connection, task: Task) -> bool:
    if not task.depends_on:
        return True
    marks = ",".join("?" * len(task.depends_on))
    row = c.execute(
        f"SELECT COUNT(*) FROM tasks WHERE id IN ({marks}) AND state='done'", task.depends_on
    ).fetchone()
    return int(row[0]) == len(task.depends_on)


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
) -> Claim | None:
    """Atomically take the best ready task for `agent`, or None when nothing is claimable."""
    now = _now(now)
    with store.tx() as c:
        if max_running is not None:
            running = c.execute("SELECT COUNT(*) FROM tasks WHERE state='running'").fetchone()[0]
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
            "INSERT INTO attempts(task_id, number, agent, started_at, nonce) VALUES (?,?,?,?,?)",
            (task.id, number, agent, now, secrets.token_hex(12)),
        )
        attempt = _attempt(
            c.execute("SELECT * FROM attempts WHERE id=?", (cur.lastrowid,)).fetchone()
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
        return Claim(_get(c, task.id), attempt)


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
        task = _get(c, task_id)
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
            (outcome.value, now, exit_code, signal, reason, mask(output_tail), result, attempt.id),
        )
        retry_at: float | None = None
        blocked: str | None = None
        if block_reason is not None:
            new = TaskState.BLOCKED
            blocked = block_reason
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
            _promote(store, c, now)
        return new


def _promote(store: Store, c: sqlite3.Connection, now: float) -> list[str]:
    promoted = []
    for row in c.execute("SELECT * FROM tasks WHERE state='pending' ORDER BY seq").fetchall():
        task = _task(row)
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
    """Move pending tasks whose dependencies are all done to ready."""
    now = _now(now)
    with store.tx() as c:
        return _promote(store, c, now)


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
) -> list[str]:
    """Requeue running tasks whose lease ran out (their attempt counts as lost).

    Claims held by agents named in `keep` are left alone: the caller has checked they live.
    """
    now = _now(now)
    keep = keep or set()
    with store.tx() as c:
        rows = c.execute(
            "SELECT id, attempts, claimed_by FROM tasks WHERE state='running' "
            "AND lease_expires_at IS NOT NULL AND lease_expires_at < ?",
            (now,),
        ).fetchall()
    expired = [(r[0], r[1]) for r in rows if r[2] not in keep]
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
        task = _get(c, task_id)
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
        task = _get(c, task_id)
        if task.state == TaskState.RUNNING:
            raise QueueError(f"{task_id} is running; the supervisor must stop it first")
        c.execute(
            "UPDATE tasks SET state='blocked', blocked_reason=?, retry_at=NULL, updated_at=? "
            "WHERE id=?",
            (reason, now, task_id),
        )
        msg = f"{task_id} blocked: {reason}"
        store.add_event(c, "task.blocked", msg, task_id=task_id, now=now)
        return msg


def unblock(store: Store, task_id: str, now: float | None = None) -> str:
    """Return a blocked task to ready (or pending while its dependencies are not done)."""
    now = _now(now)
    with store.tx() as c:
        task = _get(c, task_id)
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


def claimable(store: Store, now: float | None = None) -> bool:
    """Cheap read-only check: is any ready task past its retry time?"""
    row = store.conn.execute(
        "SELECT 1 FROM tasks WHERE state='ready' AND (retry_at IS NULL OR retry_at <= ?) LIMIT 1",
        (_now(now),),
    ).fetchone()
    return row is not None
