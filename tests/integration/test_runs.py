"""Runs (state/runs.py) on SQLite and PostgreSQL: opened, beaten, closed, ended at their last
heartbeat when their supervisor is gone, named by id; each claim names its run."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest

from overseer.state import queue, runs
from overseer.state.store import SCHEMA_VERSION, Store
from tests.backends import Backend
from tests.helpers import old_store
from tests.project import Project

T0 = 1_000_000.0


def test_runs_end_when_closed_or_at_their_last_heartbeat(backend: Backend) -> None:
    store = backend()
    one = runs.open_run(store, "h1", 10, T0)
    other_host = runs.open_run(store, "h2", 20, T0 + 1)
    runs.beat(store, one, T0 + 30)
    # While it beats, it runs; once its heartbeat is older than LIVE_S, it ended there.
    assert runs.get_run(store, one, now=T0 + 40).running
    gone = runs.get_run(store, one, now=T0 + 30 + runs.LIVE_S + 1)
    assert not gone.running and gone.end == T0 + 30
    # The next supervisor of the same host closes it at that heartbeat; another host's stays.
    two = runs.open_run(store, "h1", 11, T0 + 50)
    assert runs.get_run(store, one, now=T0 + 51).ended_at == T0 + 30
    assert runs.get_run(store, other_host, now=T0 + 51).ended_at is None
    runs.close_run(store, two, T0 + 60)
    assert runs.get_run(store, two, now=T0 + 10_000).end == T0 + 60
    assert [r.id for r in runs.runs(store, now=T0 + 61)] == [two, other_host, one]
    assert runs.get_run(store, None, now=T0 + 61).id == two
    for bad in ("99", "x", "-1"):
        with pytest.raises(runs.RunNotFound) as err:
            runs.get_run(store, bad)
        assert err.value.status == 2


def test_a_claim_names_the_run_it_belongs_to(backend: Backend) -> None:
    store = backend()
    store.upsert_tasks([{"id": "a", "command": "true"}, {"id": "b", "command": "true"}])
    queue.promote(store)
    rid = runs.open_run(store, "h1", 10, T0)
    with store.tx():  # as the supervisor claims: inside its transaction
        claim = queue.claim(store, "w", 30, run_id=rid)
    assert claim is not None
    other = queue.claim(store, "w", 30)  # a claim outside any run (a test, a tool)
    assert other is not None
    rows = {r[0]: r[1] for r in store.conn.execute("SELECT task_id, run_id FROM attempts")}
    assert rows == {claim.task.id: rid, other.task.id: None}


RUN_TASKS = """
agents:
  - {name: w, kind: shell}
tasks:
  - {id: a, run: 'exit 0'}
  - {id: b, run: 'exit 0', depends_on: [a]}
"""


def test_each_supervisor_session_is_a_run_and_its_attempts_name_it(project: Project) -> None:
    project.write(RUN_TASKS)
    assert project.cli("run", "--until-done", "--timeout", "60").returncode == 0
    (first,) = runs.runs(project.store)
    assert not first.running and first.ended_at is not None and first.host == socket.gethostname()
    attempts = project.store.conn.execute("SELECT run_id FROM attempts").fetchall()
    assert [r[0] for r in attempts] == [first.id, first.id]
    # A supervisor killed with -9 leaves its run open: the next one on the host closes it at
    # its last heartbeat (before that, a reader ends it there once the beat is old).
    proc = project.start()
    second = runs.get_run(project.store, None)
    assert second.id > first.id and second.running
    project.kill9(proc)
    beat = project.store.conn.execute(
        "SELECT heartbeat_at FROM runs WHERE id=?", (second.id,)
    ).fetchone()[0]
    assert runs.get_run(project.store, second.id).ended_at is None  # its beat is fresh
    assert not runs.get_run(project.store, second.id, now=beat + runs.LIVE_S + 1).running
    assert project.cli("run", "--until-done", "--timeout", "60").returncode == 0
    third, closed, _ = runs.runs(project.store)
    assert closed.id == second.id and closed.ended_at == beat
    assert third.id > second.id and not third.running


def test_a_version_7_store_migrates_to_runs(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    old_store(path, 7)  # as a version-7 store was: an attempt, no runs
    conn = sqlite3.connect(path)
    conn.executescript(
        "INSERT INTO tasks(id, seq, command, state, created_at, updated_at) "
        "VALUES ('old', 1, 'true', 'ready', 1.0, 1.0); "
        "INSERT INTO attempts(task_id, number, agent, started_at) VALUES ('old', 1, 'w', 1.0);"
    )
    conn.commit()
    conn.close()
    store = Store(path)
    assert store.schema_version() == SCHEMA_VERSION
    assert store.conn.execute("SELECT run_id FROM attempts").fetchall()[0][0] is None
    with pytest.raises(runs.RunNotFound, match="no runs recorded yet"):
        runs.get_run(store, None)
    assert runs.get_run(store, runs.open_run(store, "h", 1, 2.0)).started_at == 2.0
    store.close()
