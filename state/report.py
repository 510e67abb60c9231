"""The figures of `overseer report`: what a run (or the time since a moment) did, read from the store.

Pure reads, each an SQL aggregate over indexed columns (attempts by run_id or started_at,
events by id): a report over 10,000 tasks reads no row twice and loops in Python only over
its results. The same SQL runs on SQLite and PostgreSQL.

What each figure counts:
- tasks done / failed / blocked: each task that had attempts in the scope, by the newest event
  there that moved it on (task.done, task.failed, task.blocked; a claim, a retry or a return
  to ready after it leaves it unfinished): where it ended up in that run, whatever happened to
  it later. Success rate: done / (done + failed + blocked).
- retries: attempts in the scope that were not their task's first.
- durations: attempts that ran to an end of their own (not released, stale or interrupted),
  finished minus started; median and p95 by nearest rank, overall and per task.
- throughput: attempts that ended ok per interval from the scope's start.
- utilisation: per agent, its attempts' time in the scope (cut at the scope's end) over the
  scope's length.
- waiting: per agent, the time from each `agent.waiting` event to its next state event (or the
  scope's end): how long agents waited for a person.
- tokens and cost: the sum of the attempts' usage as their CLIs reported it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from overseer.state.models import AgentState
from overseer.state.runs import Run
from overseer.state.store import FREE_OUTCOMES, Store

# Throughput buckets: the shortest of these that cuts the scope into at most MAX_BUCKETS.
INTERVALS = (10, 30, 60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400)
MAX_BUCKETS = 24
SLOWEST = 10  # tasks the text report lists by p95 (--json and --csv list every task)
_FREE = ",".join(f"'{o}'" for o in FREE_OUTCOMES)
_JUDGED = ("done", "failed", "blocked")
_STATE_EVENTS = ",".join(f"'agent.{s.value}'" for s in AgentState)


@dataclass(frozen=True)
class Scope:
    """What a report covers: one run, or every attempt started since a moment."""

    start: float
    end: float
    run: Run | None = None

    @property
    def where(self) -> tuple[str, tuple[Any, ...]]:
        """The condition on attempts (and its parameters) that selects the scope's."""
        if self.run is not None:
            return "run_id = ?", (self.run.id,)
        return "started_at >= ? AND started_at <= ?", (self.start, self.end)

    @property
    def seconds(self) -> float:
        """The scope's length."""
        return max(0.0, self.end - self.start)


def run_scope(run: Run) -> Scope:
    """The scope of one run."""
    return Scope(run.started_at, run.end, run)


def since_scope(since: float, now: float | None = None) -> Scope:
    """Every attempt started from `since` until now."""
    return Scope(since, time.time() if now is None else now)


def _percentiles(store: Store, where: str, args: tuple[Any, ...], by_task: bool) -> list[Any]:
    """Median and p95 (nearest rank) of the attempts' durations, per task or overall."""
    part = "PARTITION BY k " if by_task else ""
    key = "task_id" if by_task else "'all'"
    sql = f"""
    WITH d AS (
        SELECT {key} AS k, finished_at - started_at AS s FROM attempts
        WHERE {where} AND finished_at IS NOT NULL AND outcome NOT IN ('running', {_FREE})
    ), r AS (
        SELECT k, s, ROW_NUMBER() OVER ({part}ORDER BY s) AS i, COUNT(*) OVER ({part}) AS n
        FROM d
    )
    SELECT k, n, MAX(CASE WHEN i = (n + 1) / 2 THEN s END) AS median,
        MAX(CASE WHEN i = (n * 95 + 99) / 100 THEN s END) AS p95
    FROM r GROUP BY k, n ORDER BY p95 DESC, k
    """
    return list(store.conn.execute(sql, args))


def _events(scope: Scope) -> tuple[str, tuple[Any, ...]]:
    """The condition on events (and its parameters) that selects the scope's: a run's follow
    its first event id (the primary key), up to its end."""
    if scope.run is not None:
        return "id > ? AND ts <= ?", (scope.run.first_event, scope.end)
    return "ts >= ? AND ts <= ?", (scope.start, scope.end)


# The events that move a task on: the newest of them in the scope says where it ended up.
_TASK_EVENTS = "'task.claimed', 'task.ready', 'task.retry', 'task.unblocked', " + ",".join(
    f"'task.{s}'" for s in _JUDGED
)


def _tasks(store: Store, scope: Scope) -> dict[str, int]:
    """The scope's tasks (those with attempts in it) by where they ended up in it: done,
    failed or blocked by their newest task event there, else unfinished."""
    where, args = scope.where
    after, cond = _events(scope)
    sql = f"""
    WITH a AS (SELECT DISTINCT task_id FROM attempts WHERE {where}),
    m AS (
        SELECT task_id, MAX(id) AS id FROM events
        WHERE {after} AND task_id IS NOT NULL AND kind IN ({_TASK_EVENTS}) GROUP BY task_id
    )
    SELECT CASE WHEN e.kind IN ({",".join(f"'task.{s}'" for s in _JUDGED)})
        THEN substr(e.kind, 6) ELSE 'unfinished' END AS result, COUNT(*)
    FROM a LEFT JOIN m ON m.task_id = a.task_id LEFT JOIN events AS e ON e.id = m.id
    GROUP BY 1
    """
    out = {"done": 0, "failed": 0, "blocked": 0, "unfinished": 0}
    for result, n in store.conn.execute(sql, (*args, *cond)):
        out[str(result)] = int(n)
    return out


def _interval(seconds: float) -> int:
    """The throughput bucket for a scope this long."""
    for step in INTERVALS:
        if seconds / step <= MAX_BUCKETS:
            return step
    return INTERVALS[-1]


def _throughput(store: Store, scope: Scope) -> dict[str, Any]:
    """Attempts that ended ok per interval from the scope's start (integer milliseconds:
    PostgreSQL's cast rounds where SQLite's truncates)."""
    where, args = scope.where
    step = _interval(scope.seconds)
    start_ms = int(scope.start * 1000)
    rows = store.conn.execute(
        f"SELECT (CAST(finished_at * 1000 AS BIGINT) - ?) / ? AS b, COUNT(*) FROM attempts "
        f"WHERE {where} AND outcome = 'ok' AND finished_at IS NOT NULL GROUP BY 1 ORDER BY 1",
        (start_ms, step * 1000, *args),
    )
    counts = {int(b): int(n) for b, n in rows}
    buckets = int(scope.seconds // step) + 1
    return {
        "interval_s": step,
        "done": [counts.get(i, 0) for i in range(max(buckets, max(counts, default=-1) + 1))],
    }


def _agents(store: Store, scope: Scope) -> list[dict[str, Any]]:
    """Per agent: attempts, busy seconds (cut at the scope's end) and utilisation."""
    where, args = scope.where
    rows = store.conn.execute(
        "SELECT agent, COUNT(*), SUM(CASE WHEN COALESCE(finished_at, ?) > ? THEN ? "
        f"ELSE COALESCE(finished_at, ?) END - started_at) FROM attempts WHERE {where} "
        "GROUP BY agent ORDER BY agent",
        (scope.end, scope.end, scope.end, scope.end, *args),
    )
    length = scope.seconds
    return [
        {
            "agent": str(agent),
            "attempts": int(n),
            "busy_s": max(0.0, float(busy or 0.0)),
            "utilisation": min(1.0, max(0.0, float(busy or 0.0)) / length) if length else 0.0,
        }
        for agent, n, busy in rows
    ]


def _waiting(store: Store, scope: Scope) -> list[dict[str, Any]]:
    """Per agent: how often and how long it waited for a person (agent.waiting events)."""
    after, cond = _events(scope)
    rows = store.conn.execute(
        f"""
        WITH e AS (
            SELECT agent, kind, ts, LEAD(ts) OVER (PARTITION BY agent ORDER BY id) AS nxt
            FROM events WHERE {after} AND agent IS NOT NULL
            AND kind IN ({_STATE_EVENTS})
        )
        SELECT agent, COUNT(*), SUM(COALESCE(nxt, ?) - ts) FROM e
        WHERE kind = 'agent.waiting' GROUP BY agent ORDER BY agent
        """,
        (*cond, scope.end),
    )
    return [
        {"agent": str(agent), "times": int(n), "seconds": float(s or 0.0)} for agent, n, s in rows
    ]


def _usage(store: Store, where: str, args: tuple[Any, ...]) -> dict[str, Any]:
    """Tokens and cost of the scope's attempts (only AI attempts carry usage: few rows)."""
    total: dict[str, Any] = {
        "input_tokens": 0,
        "output_tokens": 0,
        "cached_tokens": 0,
        "cost_usd": None,
        "attempts": 0,
    }
    rows = store.conn.execute(
        f"SELECT usage FROM attempts WHERE {where} AND usage IS NOT NULL", args
    )
    for (text,) in rows:
        u = json.loads(text)
        total["attempts"] += 1
        for k in ("input_tokens", "output_tokens", "cached_tokens"):
            total[k] += int(u.get(k) or 0)
        if u.get("cost_usd") is not None:
            total["cost_usd"] = (total["cost_usd"] or 0.0) + float(u["cost_usd"])
    return total


def report(store: Store, scope: Scope) -> dict[str, Any]:
    """Every figure of the scope, as one JSON-ready document (one read transaction)."""
    where, args = scope.where
    with store.read():
        tasks = _tasks(store, scope)
        outcomes = {
            str(o): int(n)
            for o, n in store.conn.execute(
                f"SELECT outcome, COUNT(*) FROM attempts WHERE {where} GROUP BY outcome", args
            )
        }
        retries = store.conn.execute(
            f"SELECT COUNT(*) FROM attempts WHERE {where} AND number > 1", args
        ).fetchone()[0]
        overall = _percentiles(store, where, args, by_task=False)
        per_task = _percentiles(store, where, args, by_task=True)
        throughput = _throughput(store, scope)
        agents = _agents(store, scope)
        waiting = _waiting(store, scope)
        usage = _usage(store, where, args)
    judged = tasks["done"] + tasks["failed"] + tasks["blocked"]
    run = scope.run
    return {
        "scope": {
            "run": run.id if run else None,
            "host": run.host if run else None,
            "pid": run.pid if run else None,
            "running": run.running if run else None,
            "start": scope.start,
            "end": scope.end,
            "seconds": scope.seconds,
        },
        "tasks": tasks,
        "success_rate": tasks["done"] / judged if judged else None,
        "attempts": {"total": sum(outcomes.values()), "retries": int(retries), **outcomes},
        "duration": {
            "attempts": int(overall[0]["n"]) if overall else 0,
            "median_s": float(overall[0]["median"]) if overall else None,
            "p95_s": float(overall[0]["p95"]) if overall else None,
        },
        "per_task": [
            {
                "task": str(r["k"]),
                "attempts": int(r["n"]),
                "median_s": r["median"],
                "p95_s": r["p95"],
            }
            for r in per_task
        ],
        "throughput": throughput,
        "agents": agents,
        "waiting": {"seconds": sum(w["seconds"] for w in waiting), "agents": waiting},
        "usage": usage,
    }


# The figures `overseer report compare` sets side by side: (label, path into the report).
COMPARED = (
    ("length", ("scope", "seconds")),
    ("tasks done", ("tasks", "done")),
    ("tasks failed", ("tasks", "failed")),
    ("tasks blocked", ("tasks", "blocked")),
    ("tasks unfinished", ("tasks", "unfinished")),
    ("success rate", ("success_rate",)),
    ("attempts", ("attempts", "total")),
    ("retries", ("attempts", "retries")),
    ("median duration", ("duration", "median_s")),
    ("p95 duration", ("duration", "p95_s")),
    ("done per hour", ("done_per_hour",)),
    ("mean utilisation", ("mean_utilisation",)),
    ("waiting for a person", ("waiting", "seconds")),
    ("input tokens", ("usage", "input_tokens")),
    ("output tokens", ("usage", "output_tokens")),
    ("cost usd", ("usage", "cost_usd")),
)


def figure(doc: dict[str, Any], path: tuple[str, ...]) -> float | None:
    """One number of a report (None: not known); two are derived from the rest."""
    if path == ("done_per_hour",):
        secs = doc["scope"]["seconds"]
        return doc["tasks"]["done"] * 3600 / secs if secs else None
    if path == ("mean_utilisation",):
        agents = doc["agents"]
        return sum(a["utilisation"] for a in agents) / len(agents) if agents else None
    value: Any = doc
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return None if value is None else float(value)


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Each compared figure of two reports with the difference (b - a) and its ratio."""
    rows = []
    for label, path in COMPARED:
        x, y = figure(a, path), figure(b, path)
        diff = y - x if x is not None and y is not None else None
        change = diff / x if diff is not None and x else None
        rows.append({"figure": label, "a": x, "b": y, "diff": diff, "change": change})
    return rows
