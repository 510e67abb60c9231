"""Dependencies at scale: a finished task promotes its own dependants through an index, so its
cost does not grow with the number of unrelated pending tasks; the schema migration fills the
index for stores made before it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from overseer.state import queue
from overseer.state.models import AttemptOutcome, TaskState
from overseer.state.store import SCHEMA_VERSION, Store
from tests.helpers import DROP_V8


def vm_steps(store: Store, action: object) -> int:
    """SQLite virtual-machine steps (in units of 10) that `action()` makes: a count that
    does not depend on the machine's speed or load."""
    steps = 0

    def tick() -> int:
        nonlocal steps
        steps += 1
        return 0

    store.conn.set_progress_handler(tick, 10)
    try:
        action()  # type: ignore[operator]
    finally:
        store.conn.set_progress_handler(None, 10)
    return steps


def finish_cost(tmp_path: Path, unrelated: int) -> int:
    store = Store(tmp_path / f"s{unrelated}" / "state.db")
    specs: list[dict[str, object]] = [
        {"id": "root", "command": "true"},
        {"id": "child", "command": "true", "depends_on": ["root"]},
        {"id": "blocker", "command": "true", "max_attempts": 1},
    ]
    specs += [
        {"id": f"p{i}", "command": "true", "depends_on": ["blocker"]} for i in range(unrelated)
    ]
    store.upsert_tasks(specs)
    claim = queue.claim(store, "w", 30, task_id="root")
    assert claim is not None
    cost = vm_steps(store, lambda: queue.finish(store, "root", 1, AttemptOutcome.OK, exit_code=0))
    assert store.task("child").state == TaskState.READY  # type: ignore[union-attr]
    assert store.task("p0" if unrelated else "child").state in (  # type: ignore[union-attr]
        TaskState.PENDING,
        TaskState.READY,
    )
    store.close()
    return cost


def test_finishing_a_task_costs_the_same_with_5000_unrelated_pending_tasks(
    tmp_path: Path,
) -> None:
    few, many = finish_cost(tmp_path, 10), finish_cost(tmp_path, 5000)
    # A scan of every pending task would cost hundreds of times more with 5,000 of them.
    assert many <= few * 2 + 5, (few, many)


def test_a_chain_promotes_one_link_at_a_time(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    store.upsert_tasks(
        [{"id": "t0", "command": "true"}]
        + [{"id": f"t{i}", "command": "true", "depends_on": [f"t{i - 1}"]} for i in range(1, 50)]
    )
    for i in range(50):
        claim = queue.claim(store, "w", 30)
        assert claim is not None and claim.task.id == f"t{i}"
        queue.finish(store, claim.task.id, claim.attempt.number, AttemptOutcome.OK, exit_code=0)
    assert store.task_counts()["done"] == 50


def test_duplicate_dependencies_do_not_hold_a_task_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    store.upsert_tasks(
        [{"id": "a", "command": "true"}, {"id": "b", "command": "true", "depends_on": ["a", "a"]}]
    )
    claim = queue.claim(store, "w", 30)
    assert claim is not None
    queue.finish(store, "a", 1, AttemptOutcome.OK, exit_code=0)
    assert store.task("b").state == TaskState.READY  # type: ignore[union-attr]


def test_added_task_whose_dependencies_are_done_is_promoted_by_the_whole_queue_pass(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "state.db")
    store.upsert_tasks([{"id": "a", "command": "true"}])
    claim = queue.claim(store, "w", 30)
    assert claim is not None
    queue.finish(store, "a", 1, AttemptOutcome.OK, exit_code=0)
    store.upsert_tasks(
        [
            {"id": "late", "command": "true", "depends_on": ["a"]},
            {"id": "orphan", "command": "true", "depends_on": ["missing"]},
        ]
    )
    assert queue.promote(store) == ["late"]
    assert store.task("orphan").state == TaskState.PENDING  # type: ignore[union-attr]


def test_migration_indexes_the_dependencies_of_an_older_store(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = Store(path)
    store.upsert_tasks(
        [{"id": "a", "command": "true"}, {"id": "b", "command": "true", "depends_on": ["a"]}]
    )
    store.close()
    # Make it look like a version-4 store: no index table, dependencies only in the row.
    conn = sqlite3.connect(path)
    conn.executescript(
        DROP_V8 + "DROP TABLE task_deps; DROP INDEX tasks_updated; DROP INDEX tasks_seq; "
        "DROP TABLE tokens; DROP INDEX attempts_outcome; "
        + "".join(
            f"ALTER TABLE agents DROP COLUMN {c}; "
            for c in ("cli_version", "version_note", "signals", "state_source", "usage")
        )
        + "ALTER TABLE attempts DROP COLUMN usage; "
        "UPDATE meta SET value='4' WHERE key='schema_version';"
    )
    conn.close()
    store = Store(path)
    assert store.schema_version() == SCHEMA_VERSION
    claim = queue.claim(store, "w", 30)
    assert claim is not None
    queue.finish(store, "a", 1, AttemptOutcome.OK, exit_code=0)
    assert store.task("b").state == TaskState.READY  # type: ignore[union-attr]
    assert json.loads(
        store.conn.execute("SELECT depends_on FROM tasks WHERE id='b'").fetchone()[0]
    ) == ["a"]


def test_an_edit_of_dependencies_moves_the_index_with_it(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    store.upsert_tasks(
        [
            {"id": "a", "command": "true"},
            {"id": "c", "command": "true"},
            {"id": "b", "command": "true", "depends_on": ["a"]},
        ]
    )
    queue.edit(store, {"b": {"depends_on": ["c", "c"]}})
    claim = queue.claim(store, "w", 30, task_id="c")
    assert claim is not None
    queue.finish(store, "c", 1, AttemptOutcome.OK, exit_code=0)
    assert store.task("b").state == TaskState.READY  # type: ignore[union-attr]
    deps = store.conn.execute("SELECT dep_id FROM task_deps WHERE task_id='b'").fetchall()
    assert [d[0] for d in deps] == ["c"]
