"""Editing tasks in the store (the `edit` operator command), tries against the budget, and
where overseer.yaml and the store disagree."""

from __future__ import annotations

from pathlib import Path

import pytest

from overseer.state import queue
from overseer.state.config import load_config_text
from overseer.state.drift import describe, drift, sync_edits, task_specs
from overseer.state.models import AttemptOutcome, TaskState
from overseer.state.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "s" / "state.db")


def add(store: Store, *specs: dict[str, object]) -> None:
    store.upsert_tasks([{"command": "true", **s} for s in specs])


def test_edit_changes_what_the_next_attempt_runs(store: Store) -> None:
    add(store, {"id": "a", "command": "mkae build", "max_attempts": 1})
    c = queue.claim(store, "w", 30)
    assert c is not None
    queue.finish(store, "a", 1, AttemptOutcome.FAILED, exit_code=127)
    result = queue.edit(store, {"a": {"command": "make build", "timeout": 60, "priority": 2}})
    assert "a edited: command 'mkae build' -> 'make build', timeout none -> 60.0" in result
    assert "`overseer retry a` runs it again" in result
    task = store.task("a")
    assert task is not None and (task.command, task.timeout, task.priority) == (
        "make build",
        60.0,
        2,
    )
    assert task.state == TaskState.FAILED  # editing is not retrying
    queue.retry(store, "a")
    again = queue.claim(store, "w", 30)
    assert again is not None and again.task.command == "make build"
    events = [e for e in store.events(task_id="a") if e.kind == "task.edited"]
    assert len(events) == 1 and events[0].data["fields"] == ["command", "timeout", "priority"]


def test_a_running_attempt_keeps_what_it_started_with(store: Store) -> None:
    add(store, {"id": "a", "command": "old"})
    claim = queue.claim(store, "w", 30)
    assert claim is not None
    result = queue.edit(store, {"a": {"command": "new"}})
    assert "the running attempt keeps the old values" in result
    assert claim.task.command == "old"  # what the runner holds
    task = store.task("a")
    assert task is not None and task.state == TaskState.RUNNING and task.command == "new"


def test_dependencies_are_checked_and_move_the_task(store: Store) -> None:
    add(store, {"id": "a"}, {"id": "b", "depends_on": ["a"]}, {"id": "c"})
    with pytest.raises(queue.QueueError, match="unknown task\\(s\\): nope"):
        queue.edit(store, {"c": {"depends_on": ["a", "nope"]}})
    with pytest.raises(queue.QueueError, match="dependency cycle: a -> b -> a"):
        queue.edit(store, {"a": {"depends_on": ["b"]}})
    with pytest.raises(queue.QueueError, match="dependency cycle"):
        queue.edit(store, {"a": {"depends_on": ["a"]}})
    # Nothing of a rejected edit was written.
    assert store.task("a").depends_on == ()  # type: ignore[union-attr]
    queue.edit(store, {"c": {"depends_on": ["b"]}})
    assert store.task("c").state == TaskState.PENDING  # type: ignore[union-attr]
    queue.edit(store, {"b": {"depends_on": []}, "c": {"depends_on": []}})
    assert store.task("b").state == TaskState.READY  # type: ignore[union-attr]
    assert store.task("c").state == TaskState.READY  # type: ignore[union-attr]


def test_bad_values_and_unknown_tasks_are_refused(store: Store) -> None:
    add(store, {"id": "a"})
    with pytest.raises(queue.QueueError, match="no task with id 'zz'"):
        queue.edit(store, {"zz": {"command": "x"}})
    with pytest.raises(queue.QueueError, match="must not be empty"):
        queue.edit(store, {"a": {"command": "  "}})
    with pytest.raises(queue.QueueError, match="cannot be edited"):
        queue.edit(store, {"a": {"cwd": "/"}})
    with pytest.raises(queue.QueueError, match="timeout"):
        queue.edit(store, {"a": {"timeout": -1}})
    assert queue.edit(store, {"a": {"command": "true"}}) == "a: nothing to change"
    queue.edit(store, {"a": {"timeout": 5}})
    queue.edit(store, {"a": {"timeout": 0, "verify": ""}})  # 0 and '' clear them
    task = store.task("a")
    assert task is not None and task.timeout is None and task.verify is None


def test_tries_used_leaves_released_attempts_out(store: Store) -> None:
    add(store, {"id": "a", "max_attempts": 2}, {"id": "b"})
    for _ in range(2):
        c = queue.claim(store, "w", 30)
        assert c is not None and c.task.id == "a"
        queue.finish(store, "a", c.attempt.number, AttemptOutcome.RELEASED)
    c = queue.claim(store, "w", 30)
    assert c is not None and c.task.id == "a"
    task = store.task("a")
    assert task is not None and task.attempts == 3  # the fencing number counts every claim
    assert store.tries_used() == {"a": 1}
    assert store.tries_used(["a", "b"]) == {"a": 1}


CONFIG = """
agents: [{name: w}]
tasks:
  - {id: a, run: "make a"}
  - {id: b, run: "make b", depends_on: [a], timeout: 10}
"""


def test_drift_names_each_task_and_field_and_sync_applies_the_config(
    store: Store, tmp_path: Path
) -> None:
    before = load_config_text(CONFIG, "overseer.yaml", tmp_path)
    store.upsert_tasks(task_specs(before))
    assert drift(store, before) == []
    after = load_config_text(
        CONFIG.replace("make b", "make bb").replace("timeout: 10", "timeout: 20, priority: 3")
        + '  - {id: c, run: "new task"}\n',
        "overseer.yaml",
        tmp_path,
    )
    drifts = drift(store, after)
    assert [(d.task_id, list(d.fields)) for d in drifts] == [
        ("b", ["command", "timeout", "priority"])
    ]
    assert describe(drifts) == "b (command, timeout, priority)"
    queue.edit(store, sync_edits(drifts))
    assert drift(store, after) == []
    task = store.task("b")
    assert task is not None and (task.command, task.timeout, task.priority) == ("make bb", 20.0, 3)
