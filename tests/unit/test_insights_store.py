"""Suggestions on a real SQLite store: migration 2, dismissal, refresh, masking at write time."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from overseer.agents.insights import Insights
from overseer.state import queue
from overseer.state.models import AgentState, AttemptOutcome, TaskState
from overseer.state.store import MIGRATIONS, SCHEMA_VERSION, Store
from tests.backends import Backend


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend()  # SQLite, then PostgreSQL


def fail(store: Store, task_id: str, code: int, tail: str = "", attempts: int = 1) -> None:
    """Run `attempts` claims of a task, each failing with `code`, without backoff."""
    for _ in range(attempts):
        claim = queue.claim(store, "w", 30, task_id=task_id)
        assert claim is not None
        queue.finish(
            store,
            task_id,
            claim.attempt.number,
            AttemptOutcome.FAILED,
            exit_code=code,
            output_tail=tail,
            delay=lambda n: 0.0,
        )


def test_a_version_1_database_migrates_to_the_current_schema_and_keeps_its_data(
    tmp_path: Path,
) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.executescript(MIGRATIONS[0])
    conn.execute("INSERT INTO meta(key, value) VALUES ('schema_version', '1')")
    conn.execute(
        "INSERT INTO tasks(id, seq, command, state, created_at, updated_at) "
        "VALUES ('kept', 1, 'true', 'ready', 0, 0)"
    )
    conn.execute('INSERT INTO suggestions(data) VALUES (\'{"key": "old"}\')')
    conn.commit()
    conn.close()
    store = Store(db)
    assert store.schema_version() == SCHEMA_VERSION >= 2
    task = store.task("kept")
    assert task is not None and task.state == TaskState.READY
    assert store.suggestions() == [{"key": "old"}]
    assert store.dismissed() == {}
    store.dismiss_suggestion("task:kept:retry", "abc")
    assert store.dismissed() == {"task:kept:retry": "abc"}
    store.close()
    assert Store(db).dismissed() == {"task:kept:retry": "abc"}  # reopening is a no-op


def test_dismissing_removes_it_now_and_renumbers_the_rest(store: Store) -> None:
    store.set_suggestions(
        [
            {"rank": 1, "key": "a", "evidence_hash": "h1"},
            {"rank": 2, "key": "b", "evidence_hash": "h2"},
            {"rank": 3, "key": "c", "evidence_hash": "h3"},
        ]
    )
    store.dismiss_suggestion("b", "h2")
    assert [(s["key"], s["rank"]) for s in store.suggestions()] == [("a", 1), ("c", 2)]
    assert any(e.kind == "suggestion.dismissed" for e in store.events())
    store.dismiss_suggestion("a", "other-hash")  # a stale hash hides nothing now
    assert [s["key"] for s in store.suggestions()] == ["a", "c"]


def test_output_tails_are_masked_when_stored(store: Store) -> None:
    store.upsert_tasks([{"id": "t", "command": "deploy", "max_attempts": 1}])
    key = "ghp_" + "a" * 36
    fail(store, "t", 1, tail=f"pushing with {key}\nAuthorization: Bearer abc123def456")
    tail = store.attempts("t")[0].output_tail
    assert key not in tail and "abc123def456" not in tail
    assert "pushing with ghp_***" in tail and "Authorization: ***" in tail


def test_refresh_stores_ranked_suggestions_and_writes_only_on_change(
    store: Store, tmp_path: Path
) -> None:
    store.upsert_tasks(
        [
            {"id": "nocmd", "command": "nope", "max_attempts": 1},
            {"id": "db", "command": "migrate", "max_attempts": 2},
        ]
    )
    fail(store, "nocmd", 127, "bash: line 1: nope: command not found")
    fail(store, "db", 2, "error: no such table", attempts=2)
    ins = Insights(store, tmp_path, stall_timeout=5)
    items = ins.refresh(now=1e9)
    assert [(i["rank"], i["key"]) for i in items] == [
        (1, "task:nocmd:edit-command"),
        (2, "task:db:block"),
    ]
    assert store.suggestions() == items
    first_row = store.conn.execute("SELECT MIN(id) FROM suggestions").fetchone()[0]
    ins.refresh(now=1e9 + 1)
    assert store.conn.execute("SELECT MIN(id) FROM suggestions").fetchone()[0] == first_row
    tops = [e for e in store.events() if e.kind == "suggestion.top"]
    assert len(tops) == 1 and tops[0].task_id == "nocmd"
    assert tops[0].data["key"] == "task:nocmd:edit-command"


def test_a_dismissed_suggestion_stays_hidden_until_its_evidence_changes(
    store: Store, tmp_path: Path
) -> None:
    store.upsert_tasks([{"id": "db", "command": "migrate", "max_attempts": 3}])
    fail(store, "db", 2, "boom", attempts=2)
    ins = Insights(store, tmp_path)
    (item,) = ins.refresh()
    assert item["action"] == "block"
    store.dismiss_suggestion(item["key"], item["evidence_hash"])
    assert store.suggestions() == []
    assert ins.refresh() == [] and ins.refresh() == []  # still dismissed
    assert store.dismissed() == {item["key"]: item["evidence_hash"]}
    fail(store, "db", 2, "boom")  # a third identical failure: new evidence
    (again,) = ins.refresh()
    assert again["key"] == item["key"] and again["evidence_hash"] != item["evidence_hash"]
    assert store.dismissed() == {}  # the dismissal ended with its evidence


def test_a_new_insights_object_does_not_repeat_the_top_event(store: Store, tmp_path: Path) -> None:
    store.upsert_tasks([{"id": "x", "command": "nope", "max_attempts": 1}])
    fail(store, "x", 127)
    Insights(store, tmp_path).refresh()
    Insights(store, tmp_path).refresh()  # e.g. a restarted supervisor
    assert len([e for e in store.events() if e.kind == "suggestion.top"]) == 1
    Insights(store, tmp_path).refresh(events=False)
    assert len([e for e in store.events() if e.kind == "suggestion.top"]) == 1


def test_refresh_reads_agents_and_logs_from_the_store(store: Store, tmp_path: Path) -> None:
    store.upsert_agent("w", "shell")
    store.update_agent("w", state=AgentState.WAITING, prompt="Proceed? [y/N]", task_id="t")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "w.log").write_bytes(b"")
    (item,) = Insights(store, tmp_path).refresh()
    assert item["key"] == "agent:w:answer" and item["text"] == "y"
    assert json.loads(json.dumps(item)) == item  # plain JSON, as status --json prints it


def test_a_renewed_lease_is_seen_between_full_reads(store: Store, tmp_path: Path) -> None:
    now = time.time()
    store.upsert_agent("w", "shell")
    store.upsert_tasks([{"id": "t", "command": "sleep 60"}], now=now - 100)
    claim = queue.claim(store, "w", 30, now=now - 100)  # its lease ran out 70 s ago
    assert claim is not None
    store.update_agent("w", state=AgentState.BUSY, task_id="t")
    ins = Insights(store, tmp_path)
    (item,) = ins.refresh(now=now, supervisor_alive=False)
    assert item["key"] == "task:t:release" and item["rule"] == "expired-claim"
    # Renewing moves only the lease (not updated_at); the next refresh must still see it.
    assert queue.renew(store, "t", claim.attempt.number, "w", 30, now=now)
    assert ins.refresh(now=now, supervisor_alive=False) == []


def test_working_set_is_bounded_by_open_work_not_history(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from overseer.state import queue
    from overseer.state.models import AttemptOutcome

    store = Store(tmp_path / "state.db")
    store.upsert_tasks([{"id": f"old{i}", "command": "true"} for i in range(60)])
    store.upsert_tasks([{"id": "flaky", "command": "true"}, {"id": "base", "command": "true"}])
    while (c := queue.claim(store, "w", 30)) is not None:
        first_try_of_flaky = c.task.id == "flaky" and c.attempt.number == 1
        outcome = AttemptOutcome.FAILED if first_try_of_flaky else AttemptOutcome.OK
        queue.finish(store, c.task.id, c.attempt.number, outcome, exit_code=0, delay=lambda n: 0)
    assert store.task("flaky").attempts == 2  # type: ignore[union-attr]
    store.upsert_tasks([{"id": "open", "command": "true", "depends_on": ["old3", "missing"]}])
    ids = [t.id for t in store.working_set(recent_done=5)]
    assert "open" in ids and "flaky" in ids  # open work, and a done task that took two tries
    assert "old3" in ids  # a done dependency of an open task
    assert len(ids) <= 5 + 3  # the rest of the history stays in the database
