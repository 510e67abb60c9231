"""Issue 15: what `overseer report` costs on a run of 10,000 tasks (SQLite; each task with one
or two attempts, agents' state events, some usage), beside a run of 1,000: one report, every
figure, read as the command reads it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench.common import Goal, Result, Row, summary
from overseer.state import report, runs
from overseer.state.store import Store

AGENTS = 20


def seed(state_dir: Path, tasks: int, start: float = 1_000_000.0) -> int:
    """A store holding one closed run of `tasks` tasks; return the run's id.

    Task i runs on agent i % AGENTS for 1 + i % 10 s; every tenth fails once and then
    succeeds, every hundredth fails for good; each agent waits for a person once; every
    fiftieth attempt reports usage (100 input tokens, 10 output, $0.01).
    """
    store = Store(state_dir / "state.db")
    try:
        store.upsert_tasks([{"id": f"t{i:05d}", "command": "true"} for i in range(tasks)])
        rid = runs.open_run(store, "bench", 1, start)
        rows = []
        states = []
        usage = json.dumps({"input_tokens": 100, "output_tokens": 10, "cost_usd": 0.01})
        for i in range(tasks):
            t, agent, at = f"t{i:05d}", f"w{i % AGENTS}", start + i * 0.5
            took = 1.0 + i % 10
            number = 1
            if i % 10 == 0:
                final = "failed" if i % 100 == 0 else "ok"
                rows.append((t, 1, agent, at, at + took, "failed", rid, None))
                number, at = 2, at + took
            else:
                final = "ok"
            rows.append(
                (t, number, agent, at, at + took, final, rid, usage if i % 50 == 0 else None)
            )
            states.append(("done" if final == "ok" else "failed", number, t, at + took))
        with store.tx() as c:
            c.executemany(
                "INSERT INTO attempts(task_id, number, agent, started_at, finished_at, outcome, "
                "run_id, usage) VALUES (?,?,?,?,?,?,?,?)",
                rows,
            )
            c.executemany(
                "UPDATE tasks SET state=?, attempts=? WHERE id=?", [s[:3] for s in states]
            )
            for i, (state, _, t, end) in enumerate(states):  # a busy fleet's events
                at = start + i * 0.5
                store.add_event(c, "agent.busy", "busy", agent=f"w{i % AGENTS}", now=at)
                store.add_event(c, "task.claimed", "claimed", task_id=t, now=at)
                store.add_event(c, f"task.{state}", state, task_id=t, now=end)
            for a in range(AGENTS):
                store.add_event(c, "agent.waiting", "waiting", agent=f"w{a}", now=start + a)
        runs.close_run(store, rid, start + tasks * 0.5 + 20)
        return rid
    finally:
        store.close()


def timed(state_dir: Path, rid: int, repeats: int) -> list[float]:
    """Milliseconds per full report of the run."""
    store = Store(state_dir / "state.db")
    out = []
    try:
        for _ in range(repeats):
            t0 = time.perf_counter()
            report.report(store, report.run_scope(runs.get_run(store, rid)))
            out.append((time.perf_counter() - t0) * 1000)
    finally:
        store.close()
    return out


def run(scale: object, tmp: Path) -> Result:
    """Issue 15: one report at 1,000 and at 10,000 tasks."""
    repeats = 5 if getattr(scale, "name", "") == "smoke" else 20
    res = Result()
    medians: dict[int, float] = {}
    for tasks in (1000, 10000):
        state_dir = tmp / f"report-{tasks}"
        rid = seed(state_dir, tasks)
        stat = summary(timed(state_dir, rid, repeats), 1)
        res.details[f"report_ms_{tasks}_tasks"] = stat
        medians[tasks] = float(stat["median"])
    stat = res.details["report_ms_10000_tasks"]
    res.rows.append(
        Row(
            "15",
            "overseer report at 10,000 tasks (11,000 attempts, 30,000 events), median",
            stat["median"],
            "ms",
            Goal("<=", 500.0),
            f"p95 {stat['p95']} ms, n={stat['n']}; at 1,000 tasks: median {medians[1000]} ms",
        )
    )
    return res
