"""The reads the dashboard and the command line make go through Store methods (SQL lives in
state/): a consistent read transaction, change detection, the newest event, completions."""

from __future__ import annotations

from overseer.state import queue
from overseer.state.models import AttemptOutcome
from tests.backends import Backend


def test_a_read_transaction_sees_one_state_until_it_ends(backend: Backend) -> None:
    reader, writer = backend(), backend()
    writer.upsert_tasks([{"id": "a", "command": "true"}])
    with reader.read():
        assert [t.id for t in reader.tasks()] == ["a"]
        writer.upsert_tasks([{"id": "b", "command": "true"}])  # WAL: the writer is not blocked
        assert [t.id for t in reader.tasks()] == ["a"]
    assert [t.id for t in reader.tasks()] == ["a", "b"]


def test_data_version_moves_when_another_connection_commits(backend: Backend) -> None:
    reader, writer = backend(), backend()
    before = reader.data_version()
    if backend.name == "sqlite":  # PostgreSQL's WAL position moves on every commit
        reader.event("dashboard.own", "a write of its own does not count")
        assert reader.data_version() == before
    writer.event("supervisor.start", "someone else wrote")
    assert reader.data_version() != before


def test_the_newest_event_and_the_newest_of_a_kind(backend: Backend) -> None:
    store = backend()
    assert store.last_event_id() == 0
    assert store.last_event_at("supervisor.start") is None
    first = store.event("supervisor.start", "started", now=100.0)
    store.event("task.done", "a done", now=150.0)
    second = store.event("supervisor.start", "started again", now=200.0)
    last = store.event("task.done", "b done", now=250.0)
    assert store.last_event_id() == last
    assert store.last_event_at("supervisor.start") == 200.0
    assert store.last_event_at("supervisor.start", after=first) == 200.0
    assert store.last_event_at("supervisor.start", after=second) is None


def test_completions_since_counts_only_attempts_that_ended_ok(backend: Backend) -> None:
    store = backend()
    store.upsert_tasks([{"id": i, "command": "true"} for i in ("ok", "bad", "late")])
    for task, outcome in (("ok", AttemptOutcome.OK), ("bad", AttemptOutcome.FAILED)):
        claim = queue.claim(store, "w", 30)
        assert claim is not None and claim.task.id == task
        queue.finish(store, task, claim.attempt.number, outcome, exit_code=0, delay=lambda n: 60)
    done = store.completions_since(0.0)
    assert len(done) == 1
    assert store.completions_since(done[0] + 1) == []


def test_task_marks_of_every_task_and_of_those_changed_running_or_added(backend: Backend) -> None:
    store = backend()
    store.upsert_tasks([{"id": i, "command": "true"} for i in ("a", "b", "c")], now=100.0)
    claim = queue.claim(store, "w", 30, now=200.0)
    assert claim is not None and claim.task.id == "a"
    every = sorted(store.task_marks())
    assert every == [("a", 200.0, "running", 230.0), ("b", 100.0, "ready", None)] + [
        ("c", 100.0, "ready", None)
    ]
    # Since 150: the running task; after seq 2: the third; nothing else.
    assert sorted(store.task_marks(150.0, 2)) == [every[0], every[2]]
    assert store.task_marks(300.0, 3) == [every[0]]


def test_an_agent_whose_row_did_not_change_is_not_decoded_again(backend: Backend) -> None:
    """On PostgreSQL a dashboard reads 500 agents at every commit (issue 14): unchanged rows
    give the same objects; SQLite decodes them afresh (equal, not the same)."""
    store, writer = backend(), backend()
    for name in ("w-1", "w-2"):
        writer.upsert_agent(name, "shell", now=1.0)
    first = store.agents()
    writer.update_agent("w-2", last_line="hello", signals={"hook": True})
    second = store.agents()
    assert first[0] == second[0] and first[1] != second[1]
    assert second[1].last_line == "hello" and second[1].signals == {"hook": True}
    if backend.name == "postgresql":
        assert second[0] is first[0] and second[1] is not first[1]
