"""The dashboard's incremental snapshot reader agrees with a fresh full read, step by step."""

from __future__ import annotations

import random
from contextlib import suppress
from pathlib import Path

import pytest

from overseer.state import queue
from overseer.state.backend import STORE_ENV
from overseer.state.models import AttemptOutcome
from overseer.state.store import Store
from overseer.tui.snapshot import Snapshot, SnapshotReader
from tests.backends import Backend


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def reader(db: Path, clock: Clock) -> SnapshotReader:
    return SnapshotReader(db, project="p", clock=clock, usage=lambda pid: (None, None))


def comparable(snap: Snapshot) -> tuple[object, ...]:
    return (snap.tasks, snap.counts, [e.id for e in snap.events], snap.agents)


def mutate(store: Store, rng: random.Random, step: int) -> None:
    """One random thing a supervisor or an operator does."""
    choice = rng.randrange(7)
    ids = [t.id for t in store.tasks()]
    if choice == 0:
        n = len(ids)
        deps = [rng.choice(ids)] if ids and rng.random() < 0.5 else []
        store.upsert_tasks([{"id": f"n{step}-{n}", "command": "true", "depends_on": deps}])
    elif choice in (1, 2):
        claim = queue.claim(store, f"w{rng.randrange(3)}", lease_s=60)
        if claim is not None and rng.random() < 0.8:
            ok = rng.random() < 0.6
            queue.finish(
                store,
                claim.task.id,
                claim.attempt.number,
                AttemptOutcome.OK if ok else AttemptOutcome.FAILED,
                exit_code=0 if ok else 3,
                reason=None if ok else f"exit 3 at step {step}",
            )
    elif choice == 3 and ids:
        with suppress(queue.QueueError):
            queue.block(store, rng.choice(ids), f"blocked at step {step}")
    elif choice == 4 and ids:
        with suppress(queue.QueueError):
            queue.unblock(store, rng.choice(ids))
    elif choice == 5:
        store.update_agent(f"w{rng.randrange(3)}", last_line=f"line {step}")
        store.event("note", f"step {step}")
    else:
        queue.promote(store)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_reads_match_a_fresh_reader(
    backend: Backend, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(seed)
    store = backend()  # SQLite, then PostgreSQL (the readers find it as the CLI names it)
    if backend.name == "postgresql":
        monkeypatch.setenv(STORE_ENV, str(backend.location))
    db = backend.state_dir / "state.db"
    for name in ("w0", "w1", "w2"):
        store.upsert_agent(name, "shell")
    store.upsert_tasks(
        [
            {"id": f"t{i}", "command": "true", "depends_on": [f"t{i - 1}"] if i % 3 else []}
            for i in range(30)
        ]
    )
    clock = Clock()
    live = reader(db, clock)
    assert live.store.backend == backend.name
    live.read()
    for step in range(120):
        mutate(store, rng, step)
        clock.now += rng.uniform(0.1, 3.0)
        if step % 25 == 24:
            live._full_at = float("-inf")  # the periodic full read, sooner than 30 s
        fresh = reader(db, clock)
        try:
            assert comparable(live.read()) == comparable(fresh.read()), f"step {step}"
        finally:
            fresh.close()
    live.close()
    store.close()


def test_a_deleted_task_leaves_the_rows_at_the_next_full_read(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = Store(db)
    store.upsert_tasks([{"id": f"t{i}", "command": "true"} for i in range(5)])
    clock = Clock()
    live = reader(db, clock)
    assert [r.id for r in live.read().tasks] == ["t0", "t1", "t2", "t3", "t4"]
    with store.tx() as c:
        c.execute("DELETE FROM tasks WHERE id='t2'")
    live._full_at = float("-inf")
    snap = live.read()
    assert [r.id for r in snap.tasks] == ["t0", "t1", "t3", "t4"]
    assert snap.counts["ready"] + snap.counts["pending"] == 4


def test_rows_of_untouched_tasks_are_the_same_objects(tmp_path: Path) -> None:
    """The tables' fast path relies on identity: an unchanged row is the same object."""
    db = tmp_path / "state.db"
    store = Store(db)
    store.upsert_tasks([{"id": f"t{i}", "command": "true"} for i in range(50)])
    clock = Clock()
    live = reader(db, clock)
    first = live.read().tasks
    queue.block(store, "t7", "by hand")
    live._full_at = float("-inf")  # also across a full read
    second = live.read().tasks
    same = [a is b for a, b in zip(first, second, strict=True)]
    assert same.count(False) == 1 and not same[7]
    assert second[7].state == "blocked"


def recorded(live: SnapshotReader) -> tuple[list[str], list[str]]:
    """The ids of the full task rows the reader reads from now on, and its reads of all tasks."""
    rows: list[str] = []
    whole: list[str] = []
    by_ids, every = live.store.tasks_by_ids, live.store.tasks
    live.store.tasks_by_ids = lambda ids: (rows.extend(ids), by_ids(ids))[1]  # type: ignore[method-assign]
    live.store.tasks = lambda *a: (whole.append("all"), every(*a))[1]  # type: ignore[method-assign]
    return rows, whole


def test_a_quiet_store_costs_no_task_rows_running_tasks_and_the_periodic_check_included(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14: at 100,000 tasks a full read took 10 s on PostgreSQL, and every read
    re-read every running task; now only rows whose marks moved are read."""
    store = backend()
    if backend.name == "postgresql":
        monkeypatch.setenv(STORE_ENV, str(backend.location))
    store.upsert_tasks([{"id": f"t{i}", "command": "true"} for i in range(20)])
    claims = [queue.claim(store, f"w{i}", lease_s=60) for i in range(3)]
    live = reader(backend.state_dir / "state.db", Clock())
    live.read()
    rows, whole = recorded(live)
    live.read()
    live._full_at = float("-inf")  # the periodic check of every task's marks
    live.read()
    assert rows == [] and whole == []
    first = claims[0]
    assert first is not None
    queue.renew(store, first.task.id, first.attempt.number, "w0", lease_s=600)
    snap = live.read()
    assert rows == [first.task.id]  # the renewed lease, alone
    lease = next(r.lease_left for r in snap.tasks if r.id == first.task.id)
    assert lease is not None and lease > 1_000_000  # the fake clock is far behind the lease
    assert whole == []
    live.close()
    store.close()


def test_a_change_stamped_by_a_lagging_clock_shows_at_the_periodic_check(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = Store(db)
    store.upsert_tasks([{"id": f"t{i}", "command": "true"} for i in range(5)])
    live = reader(db, Clock())
    live.read()
    with store.tx() as c:  # another host, its clock a minute behind
        c.execute("UPDATE tasks SET command='make', updated_at=updated_at - 60 WHERE id='t3'")
    assert next(r.command for r in live.read().tasks if r.id == "t3") == "true"  # missed
    live._full_at = float("-inf")
    assert next(r.command for r in live.read().tasks if r.id == "t3") == "make"
    live.close()
    store.close()


def test_a_superseded_attempt_marked_stale_shows_at_the_next_read(tmp_path: Path) -> None:
    """A late result marks an old attempt stale and writes an event, but no task row: the
    event names the task, so the reader re-reads its tries at once (not 30 s later)."""
    db = tmp_path / "state.db"
    store = Store(db)
    store.upsert_tasks([{"id": "a", "command": "true"}])
    claim = queue.claim(store, "w0", lease_s=60)
    assert claim is not None
    live = reader(db, Clock())
    assert live.read().tasks[0].tries == 1
    with store.tx() as c:  # what a returning host's late result does (the task moved on)
        c.execute("UPDATE attempts SET outcome='stale' WHERE task_id='a'")
        store.add_event(c, "attempt.stale", "a attempt 1 result ignored", task_id="a")
    assert live.read().tasks[0].tries == 0
    live.close()
    store.close()
