"""Runs (state/runs.py) and the report's figures (state/report.py) on SQLite and PostgreSQL:
a store seeded with attempts of known times, so every figure has one right value."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from bench.runreport import seed
from overseer.state import report, runs
from overseer.state.models import TaskState
from overseer.state.store import SCHEMA_VERSION, Store
from tests.backends import Backend
from tests.project import Project

T0 = 1_000_000.0  # the seeded run starts here (seconds)


def attempt(
    store: Store,
    run_id: int | None,
    task: str,
    number: int,
    agent: str,
    start: float,
    end: float | None,
    outcome: str,
    usage: dict[str, object] | None = None,
) -> None:
    with store.tx() as c:
        c.execute(
            "INSERT INTO attempts(task_id, number, agent, started_at, finished_at, outcome, "
            "run_id, usage) VALUES (?,?,?,?,?,?,?,?)",
            (
                task,
                number,
                agent,
                start,
                end,
                outcome,
                run_id,
                json.dumps(usage) if usage else None,
            ),
        )
        c.execute("UPDATE tasks SET attempts=? WHERE id=? AND attempts < ?", (number, task, number))


def set_state(store: Store, task: str, state: TaskState) -> None:
    with store.tx() as c:
        c.execute("UPDATE tasks SET state=? WHERE id=?", (state.value, task))


def seeded(store: Store) -> runs.Run:
    """Run 1 (T0 .. T0+100 s, closed) with attempts of known times; run 2 after it."""
    store.upsert_tasks([{"id": t, "command": "true"} for t in "abcdefg"])
    rid = runs.open_run(store, "h1", 11, T0)
    # a: ok in 10 s. b: failed (4 s), then ok (6 s). c: failed twice, out of tries (2 s, 8 s).
    # d: blocked at its only attempt (1 s). e: released (free: no duration), still unfinished.
    # f: failed once here (3 s) and retried in the next run. g: running at the end (from 90 s).
    attempt(store, rid, "a", 1, "w1", T0 + 0, T0 + 10, "ok")
    attempt(store, rid, "b", 1, "w2", T0 + 0, T0 + 4, "failed")
    attempt(
        store,
        rid,
        "b",
        2,
        "w2",
        T0 + 20,
        T0 + 26,
        "ok",
        {"input_tokens": 100, "output_tokens": 7, "cost_usd": 0.5},
    )
    attempt(store, rid, "c", 1, "w1", T0 + 30, T0 + 32, "failed")
    attempt(
        store,
        rid,
        "c",
        2,
        "w1",
        T0 + 40,
        T0 + 48,
        "failed",
        {"input_tokens": 5, "output_tokens": 1},
    )
    attempt(store, rid, "d", 1, "w2", T0 + 50, T0 + 51, "failed")
    attempt(store, rid, "e", 1, "w2", T0 + 60, T0 + 61, "released")
    attempt(store, rid, "f", 1, "w1", T0 + 70, T0 + 73, "failed")
    attempt(store, rid, "g", 1, "w2", T0 + 90, None, "running")
    for t, s in (("a", "done"), ("b", "done"), ("c", "failed"), ("d", "blocked"), ("g", "running")):
        set_state(store, t, TaskState(s))
    # The task events the queue writes: the newest of each task in the run says where it ended.
    with store.tx() as c:
        for ts, task, kind in (
            (T0 + 4, "b", "task.ready"),
            (T0 + 10, "a", "task.done"),
            (T0 + 20, "b", "task.claimed"),
            (T0 + 26, "b", "task.done"),
            (T0 + 32, "c", "task.ready"),
            (T0 + 48, "c", "task.failed"),
            (T0 + 51, "d", "task.blocked"),
            (T0 + 61, "e", "task.ready"),
            (T0 + 73, "f", "task.ready"),
            (T0 + 90, "g", "task.claimed"),
            (T0 + 91, "c", "task.edited"),  # moves nothing on
        ):
            store.add_event(c, kind, f"{task} {kind}", task_id=task, now=ts)
    # w1 waits for a person 35 s .. 45 s (then busy), w2 from 95 s to the run's end.
    with store.tx() as c:
        for ts, agent, kind in (
            (T0 + 30, "w1", "agent.busy"),
            (T0 + 35, "w1", "agent.waiting"),
            (T0 + 45, "w1", "agent.busy"),
            (T0 + 95, "w2", "agent.waiting"),
            (T0 + 96, "w2", "agent.waiting"),  # a second note of the same wait
        ):
            store.add_event(c, kind, f"{agent} {kind}", agent=agent, now=ts)
    runs.close_run(store, rid, T0 + 100)
    rid2 = runs.open_run(store, "h1", 12, T0 + 200)
    attempt(store, rid2, "f", 2, "w1", T0 + 200, T0 + 205, "ok")
    set_state(store, "f", TaskState.DONE)
    with store.tx() as c:
        store.add_event(c, "agent.waiting", "after the run", agent="w1", now=T0 + 201)
        store.add_event(c, "task.done", "f done", task_id="f", now=T0 + 205)
        store.add_event(c, "task.failed", "a failed later", task_id="a", now=T0 + 250)
    runs.close_run(store, rid2, T0 + 300)
    return runs.get_run(store, rid, now=T0 + 1000)


def test_the_report_counts_each_figure_of_a_run(backend: Backend) -> None:
    store = backend()
    assert int(store.meta_get("schema_version") or 0) == SCHEMA_VERSION
    run = seeded(store)
    doc = report.report(store, report.run_scope(run))
    assert doc["scope"]["seconds"] == pytest.approx(100)
    assert doc["tasks"] == {"done": 2, "failed": 1, "blocked": 1, "unfinished": 3}
    assert doc["success_rate"] == pytest.approx(2 / 4)
    assert doc["attempts"]["total"] == 9 and doc["attempts"]["retries"] == 2
    assert doc["attempts"]["ok"] == 2 and doc["attempts"]["failed"] == 5
    # Ended, not free: 10, 4, 6, 2, 8, 1, 3 -> sorted 1 2 3 4 6 8 10: median 4, p95 10.
    assert doc["duration"] == {"attempts": 7, "median_s": 4.0, "p95_s": 10.0}
    per_task = {r["task"]: r for r in doc["per_task"]}
    assert per_task["b"]["attempts"] == 2 and per_task["b"]["median_s"] == 4.0
    assert per_task["b"]["p95_s"] == 6.0 and "e" not in per_task
    assert doc["per_task"][0]["task"] == "a"  # the slowest first
    tp = doc["throughput"]
    assert tp["interval_s"] == 10 and sum(tp["done"]) == 2
    assert tp["done"][1] == 1 and tp["done"][2] == 1  # a at 10 s, b at 26 s
    agents = {a["agent"]: a for a in doc["agents"]}
    # w1: 10 + 2 + 8 + 3 = 23 s; w2: 4 + 6 + 1 + 1 + 10 (running until the end) = 22 s.
    assert agents["w1"]["busy_s"] == pytest.approx(23) and agents["w1"]["attempts"] == 4
    assert agents["w2"]["busy_s"] == pytest.approx(22)
    assert agents["w2"]["utilisation"] == pytest.approx(0.22)
    waits = {w["agent"]: w for w in doc["waiting"]["agents"]}
    assert waits["w1"]["seconds"] == pytest.approx(10) and waits["w1"]["times"] == 1
    assert waits["w2"]["seconds"] == pytest.approx(5)
    assert doc["waiting"]["seconds"] == pytest.approx(15)
    u = doc["usage"]
    assert (u["input_tokens"], u["output_tokens"], u["attempts"]) == (105, 8, 2)
    assert u["cost_usd"] == pytest.approx(0.5)


def test_since_covers_every_run_and_compare_takes_differences(backend: Backend) -> None:
    store = backend()
    first = seeded(store)
    second = runs.get_run(store, "latest", now=T0 + 1000)
    assert second.id != first.id and second.seconds == pytest.approx(100)
    doc = report.report(store, report.since_scope(T0, now=T0 + 300))
    assert doc["attempts"]["total"] == 10 and doc["scope"]["run"] is None
    # f is done in the second run; a, done in the first, failed at last in the second.
    assert doc["tasks"] == {"done": 2, "failed": 2, "blocked": 1, "unfinished": 2}
    rows = {
        r["figure"]: r
        for r in report.compare(
            report.report(store, report.run_scope(first)),
            report.report(store, report.run_scope(second)),
        )
    }
    assert rows["tasks done"]["a"] == 2 and rows["tasks done"]["b"] == 1
    assert rows["tasks done"]["diff"] == -1 and rows["tasks done"]["change"] == pytest.approx(-0.5)
    assert rows["success rate"]["b"] == 1.0


def test_a_seeded_run_of_10000_tasks_reports_every_task(tmp_path: Path) -> None:
    rid = seed(tmp_path, 10_000)  # the store `python -m bench --only report` times
    store = Store(tmp_path / "state.db")
    doc = report.report(store, report.run_scope(runs.get_run(store, rid)))
    store.close()
    assert doc["tasks"] == {"done": 9900, "failed": 100, "blocked": 0, "unfinished": 0}
    assert doc["attempts"]["total"] == 11_000 and doc["attempts"]["retries"] == 1000
    assert len(doc["per_task"]) == 10_000 and len(doc["agents"]) == 20
    assert sum(doc["throughput"]["done"]) == 9900
    assert doc["usage"]["attempts"] == 200 and doc["usage"]["input_tokens"] == 20_000
    # Durations 1..10 s, each value alike often (the retried tasks take as long twice).
    assert doc["duration"]["median_s"] in (5.0, 6.0) and doc["duration"]["p95_s"] == 10.0


TASKS = """
agents:
  - {name: w, kind: shell}
tasks:
  - {id: a, run: 'exit 0'}
  - {id: b, run: 'exit 3', max_attempts: 2}
"""


def test_report_command_prints_text_json_csv_and_compares_runs(project: Project) -> None:
    project.write(TASKS)
    empty = project.cli("report")
    assert empty.returncode == 2 and "no Overseer state" in empty.stderr
    assert project.cli("run", "--until-done", "--timeout", "60").returncode == 1
    assert project.cli("retry", "b").returncode == 0
    assert project.cli("run", "--until-done", "--timeout", "60").returncode == 1
    text = project.cli("report", check=True).stdout
    assert text.startswith("run 2 on ") and "failed 1" in text and "agent       w" in text
    first = json.loads(project.cli("report", "1", "--json", check=True).stdout)
    assert first["scope"]["run"] == 1 and first["tasks"]["done"] == 1
    assert first["tasks"]["failed"] == 1 and first["attempts"]["retries"] == 1
    rows = list(csv.reader(io.StringIO(project.cli("report", "1", "--csv", check=True).stdout)))
    assert ["tasks", "", "done", "1"] in rows and ["agent", "w", "attempts", "3"] in rows
    since = json.loads(project.cli("report", "--since", "1h", "--json", check=True).stdout)
    assert since["attempts"]["total"] == 4 and since["scope"]["run"] is None
    cmp = project.cli("report", "compare", "1", "2", check=True).stdout.splitlines()
    assert cmp[0].split() == ["run", "1", "run", "2", "diff", "change"]
    done = next(line for line in cmp if line.startswith("tasks done"))
    assert done.split()[2:5] == ["1", "0", "-1"]
    listed = json.loads(project.cli("runs", "--json", check=True).stdout)
    assert [r["id"] for r in listed] == [2, 1] and not any(r["running"] for r in listed)
    assert project.cli("report", "--list", check=True).stdout.count("\n") == 3
    for bad in (["9"], ["x"], ["compare", "1", "9"], ["compare", "1"], ["1", "2"]):
        r = project.cli("report", *bad)
        assert r.returncode == 2 and len(r.stderr.splitlines()) == 1, (bad, r.stderr)
        assert r.stderr.startswith("overseer: ") and r.stdout == ""
    r = project.cli("report", "--since", "yesterday")
    assert r.returncode == 2 and "--since takes" in r.stderr
